package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// RemoveLabeled removes from the test engine every container (with its
// anonymous volumes), network and volume carrying label ("key=value"),
// for a test's cleanup. Failures are logged, not fatal: what is left
// behind does not make the test wrong.
func RemoveLabeled(t testing.TB, docker *client.Client, label string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	filters := make(client.Filters).Add("label", label)
	containers, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		t.Logf("clean up %s: list containers: %v", label, err)
		return
	}
	for _, c := range containers.Items {
		if _, err := docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Logf("clean up %s: remove container %s: %v", label, c.ID, err)
		}
	}
	networks, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	if err != nil {
		t.Logf("clean up %s: list networks: %v", label, err)
	}
	for _, n := range networks.Items {
		if _, err := docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			t.Logf("clean up %s: remove network %s: %v", label, n.Name, err)
		}
	}
	volumes, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: filters})
	if err != nil {
		t.Logf("clean up %s: list volumes: %v", label, err)
	}
	for _, v := range volumes.Items {
		if _, err := docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Logf("clean up %s: remove volume %s: %v", label, v.Name, err)
		}
	}
}
