package deploy

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// TestRemoveOrphansOnEngine: on the real engine, FindOrphans lists a
// running container and a network left by a stack the database does not
// have, and RemoveOrphans removes them (the container with its anonymous
// volume, before the network it is attached to), while a listed container
// whose stack became known meanwhile is kept.
func TestRemoveOrphansOnEngine(t *testing.T) {
	cli := testenv.Docker(t)
	rt, err := NewRuntime("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Stack ids above the ones test databases hand out, random so that two
	// runs on the shared engine do not meet.
	gone := 4_100_000_000 + rand.Int64N(90_000_000)
	adopted := gone + 1
	labels := func(id int64) map[string]string {
		return map[string]string{spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: strconv.FormatInt(id, 10), spec.LabelStack: "orphan-test"}
	}
	netName := testenv.UniqueName("devarch-orphan-net-")
	if _, err := cli.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: labels(gone)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cli.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	create := func(id int64, network string) (name, volume string) {
		name = testenv.UniqueName("devarch-orphan-")
		hc := &container.HostConfig{}
		if network != "" {
			hc.NetworkMode = container.NetworkMode(network)
		}
		c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, HostConfig: hc,
			Config: &container.Config{Image: testenv.TestImage, Labels: labels(id), Volumes: map[string]struct{}{"/data": {}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		})
		if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		in, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range in.Container.Mounts {
			if m.Type == "volume" {
				volume = m.Name
			}
		}
		if volume == "" {
			t.Fatalf("container %s has no anonymous volume", name)
		}
		return name, volume
	}
	orphan, orphanVolume := create(gone, netName)
	kept, _ := create(adopted, "")

	snap, err := rt.NewObserver().Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := FindOrphans(snap, map[int64]bool{})
	// Only this test's objects: the shared engine holds other tests'.
	var o Orphans
	for _, c := range all.Containers {
		if c.StackID == gone || c.StackID == adopted {
			o.Containers = append(o.Containers, c)
		}
	}
	for _, n := range all.Networks {
		if n.StackID == gone {
			o.Networks = append(o.Networks, n)
		}
	}
	names := func(cs []OrphanContainer) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	want := []string{orphan, kept}
	slices.Sort(want)
	if got := names(o.Containers); !slices.Equal(got, want) || len(o.Networks) != 1 || o.Networks[0].Name != netName {
		t.Fatalf("orphans found: containers %v, networks %+v; want %v and %s", got, o.Networks, want, netName)
	}

	known := func(_ context.Context, id int64) (bool, error) { return id == adopted, nil }
	removed, err := rt.RemoveOrphans(ctx, o, known, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if wantRemoved := []string{"container " + orphan, "network " + netName}; !slices.Equal(removed, wantRemoved) {
		t.Errorf("removed %v, want %v", removed, wantRemoved)
	}
	if _, err := cli.ContainerInspect(ctx, orphan, client.ContainerInspectOptions{}); err == nil {
		t.Errorf("orphaned container %s is left", orphan)
	}
	if _, err := cli.VolumeInspect(ctx, orphanVolume, client.VolumeInspectOptions{}); err == nil {
		t.Errorf("the anonymous volume %s of the removed orphan is left", orphanVolume)
	}
	if _, err := cli.NetworkInspect(ctx, netName, client.NetworkInspectOptions{}); err == nil {
		t.Errorf("orphaned network %s is left", netName)
	}
	if _, err := cli.ContainerInspect(ctx, kept, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("container %s, whose stack is known by now, was removed: %v", kept, err)
	}
}
