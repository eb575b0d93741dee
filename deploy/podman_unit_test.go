package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/spec"
)

// The fixtures in testdata/podman are Podman 4.3.1's answers on its
// Docker-compatible API (v1.41) for one container on a network of its
// own: container inspect, container list, network list, and the events
// of podman stop, start, kill and rm.

func readPodmanFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "podman", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

const (
	fixtureNetwork   = "devarch-fixture-net"
	fixtureNetworkID = "c9e4c8d115564386389504d13be878eb6a380bc031581e9b66e85fcc6290992e"
)

func fixtureNetworkIDs(t *testing.T) map[string]string {
	t.Helper()
	var nets []network.Summary
	readPodmanFixture(t, "network-list.json", &nets)
	ids := map[string]string{}
	for _, n := range nets {
		ids[n.Name] = n.ID
	}
	if ids[fixtureNetwork] != fixtureNetworkID {
		t.Fatalf("network list fixture: %v", ids)
	}
	return ids
}

// TestPodmanInspectNetworkIDs: Podman's inspect gives the network's name
// as NetworkID (and EndpointID empty, NetworkMode "bridge"); observation
// puts the network's id in its place, so the plan sees the container
// attached to the stack's network. Docker's ids, and the name of a
// network that no longer exists, are left alone.
func TestPodmanInspectNetworkIDs(t *testing.T) {
	var in container.InspectResponse
	readPodmanFixture(t, "container-inspect.json", &in)
	if ep := in.NetworkSettings.Networks[fixtureNetwork]; ep == nil || ep.NetworkID != fixtureNetwork || ep.EndpointID != "" || in.HostConfig.NetworkMode != "bridge" {
		t.Fatalf("fixture is not Podman's form: %+v, network mode %q", ep, in.HostConfig.NetworkMode)
	}
	if !podmanNetworkNames(&in) {
		t.Fatal("podmanNetworkNames = false for Podman's inspect")
	}
	if c := toContainer(&in, imageDefaults{}); c.Networks[fixtureNetwork] != fixtureNetwork {
		t.Fatalf("without resolving, the network id is %q (the name)", c.Networks[fixtureNetwork])
	}
	resolveNetworkIDs(&in, fixtureNetworkIDs(t))
	c := toContainer(&in, imageDefaults{})
	if got := c.Networks[fixtureNetwork]; got != fixtureNetworkID {
		t.Errorf("network id = %q, want %q", got, fixtureNetworkID)
	}
	if podmanNetworkNames(&in) {
		t.Error("podmanNetworkNames = true after resolving")
	}

	docker := &container.InspectResponse{NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"devarch-shop-net": {NetworkID: "0f3a"}}}}
	if podmanNetworkNames(docker) {
		t.Error("podmanNetworkNames = true for Docker's inspect")
	}
	resolveNetworkIDs(docker, map[string]string{"devarch-shop-net": "other"})
	if got := docker.NetworkSettings.Networks["devarch-shop-net"].NetworkID; got != "0f3a" {
		t.Errorf("Docker's network id rewritten to %q", got)
	}
	gone := &container.InspectResponse{NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"removed-net": {NetworkID: "removed-net"}, "nil-endpoint": nil}}}
	resolveNetworkIDs(gone, map[string]string{})
	if got := gone.NetworkSettings.Networks["removed-net"].NetworkID; got != "removed-net" {
		t.Errorf("id of a network that is gone = %q, want its name kept", got)
	}
	resolveNetworkIDs(nil, nil)
	resolveNetworkIDs(&container.InspectResponse{}, nil)
}

// TestPodmanListNetworkIDs: the container list has the same difference;
// compose reads it to decide whether a container left a network, so the
// client compose uses on Podman rewrites it too.
func TestPodmanListNetworkIDs(t *testing.T) {
	var list []container.Summary
	readPodmanFixture(t, "container-list.json", &list)
	if len(list) != 1 || !summaryNetworkNames(list[0]) {
		t.Fatalf("fixture is not Podman's form: %+v", list)
	}
	resolveSummaryNetworkIDs(&list[0], fixtureNetworkIDs(t))
	if got := list[0].NetworkSettings.Networks[fixtureNetwork].NetworkID; got != fixtureNetworkID {
		t.Errorf("network id = %q, want %q", got, fixtureNetworkID)
	}
	if summaryNetworkNames(list[0]) || summaryNetworkNames(container.Summary{}) {
		t.Error("summaryNetworkNames = true after resolving or without networks")
	}
	resolveSummaryNetworkIDs(&container.Summary{}, nil)
}

// TestPodmanInspectObserved: the rest of Podman's inspect reads as
// Docker's would: identity labels, state, health ("starting" until the
// first check), restart policy, published ports, and the image by the
// name it was given (Podman reports it fully qualified).
func TestPodmanInspectObserved(t *testing.T) {
	var in container.InspectResponse
	readPodmanFixture(t, "container-inspect.json", &in)
	if in.Config.Image != "docker.io/devarch-test/sleeper:latest" {
		t.Fatalf("fixture image %q", in.Config.Image)
	}
	c := toContainer(&in, imageDefaults{})
	if c.StackID != 7 || c.InstanceID != 9 || c.StackName != "fixture" || c.InstanceName != "web" {
		t.Errorf("identity = %d/%d %s/%s", c.StackID, c.InstanceID, c.StackName, c.InstanceName)
	}
	if c.State != spec.StateRunning || c.Health != "starting" || c.Restart != "unless-stopped" {
		t.Errorf("state %q health %q restart %q", c.State, c.Health, c.Restart)
	}
	if c.Image != "devarch-test/sleeper:latest" {
		t.Errorf("image = %q, want devarch-test/sleeper:latest", c.Image)
	}
	if c.Name != "devarch-fixture-web" || c.ImageID == "" || c.Created.IsZero() {
		t.Errorf("name %q image id %q created %v", c.Name, c.ImageID, c.Created)
	}
	if len(c.Ports) != 1 || c.Ports[0] != (spec.Port{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 8080, Protocol: "tcp"}) {
		t.Errorf("ports = %+v", c.Ports)
	}
	if len(c.Published) != 1 || c.Published[0].HostPort != 18080 {
		t.Errorf("published = %+v", c.Published)
	}
}

func TestFamiliarImage(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/redis:7":             "redis:7",
		"docker.io/devarch-test/sleeper:latest": "devarch-test/sleeper:latest",
		"redis:7":                               "redis:7",
		"redis":                                 "redis",
		"ghcr.io/org/app:1":                     "ghcr.io/org/app:1",
		"localhost/app:dev":                     "localhost/app:dev",
		"Not A Reference":                       "Not A Reference",
	} {
		if got := familiarImage(in); got != want {
			t.Errorf("familiarImage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPodmanEvents: Podman's events carry the container's labels and a
// die's exit code as Docker's do. Podman sends no "stop" (a stop is a
// "die" with the process's exit code), adds "cleanup" events after a
// die and calls a removal "remove" (Docker: "destroy"): the controller
// needs only "die", whose exit code it shows at once.
func TestPodmanEvents(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "podman", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m events.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if ev, ok := toEvent(m); ok {
			got = append(got, ev)
		}
	}
	var actions []string
	var dieCodes []int
	for _, ev := range got {
		actions = append(actions, ev.Action)
		if ev.StackID != 5 || ev.InstanceID != 6 || ev.ContainerID == "" || ev.Time.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("event %+v: want stack 5, instance 6, a container id and the event's time", ev)
		}
		if ev.Action == "die" {
			dieCodes = append(dieCodes, ev.ExitCode)
		}
	}
	want := []string{"die", "cleanup", "cleanup", "init", "start", "kill", "die", "cleanup", "remove"}
	if !slices.Equal(actions, want) {
		t.Errorf("actions = %v, want %v", actions, want)
	}
	if len(dieCodes) != 2 || dieCodes[0] != 0 || dieCodes[1] != 137 {
		t.Errorf("die exit codes = %v, want [0 137] (stop, kill)", dieCodes)
	}
}

// TestPodmanLocalImages: an image Podman names localhost/NAME (tagged or
// built locally) is what NAME runs, before docker.io/NAME.
func TestPodmanLocalImages(t *testing.T) {
	list := []image.Summary{
		{ID: "sha256:remote", RepoTags: []string{"docker.io/library/app:1", "docker.io/devarch-test/drift:x"}},
		{ID: "sha256:local", RepoTags: []string{"localhost/devarch-test/drift:x", "localhost/tool"}},
	}
	images := map[string]string{}
	for _, img := range list {
		for _, tag := range img.RepoTags {
			images[NormalizeImageRef(tag)] = img.ID
		}
	}
	podmanLocalImages(images, list)
	for ref, want := range map[string]string{"app:1": "sha256:remote", "devarch-test/drift:x": "sha256:local", "tool:latest": "sha256:local"} {
		if got := images[NormalizeImageRef(ref)]; got != want {
			t.Errorf("%s → %q, want %q", ref, got, want)
		}
	}
}

// Podman answers 500 "no such container" for a container removed while it
// answers; that is the container being gone, as Docker's 404 is. Other
// errors stay what they are.
func TestContainerGone(t *testing.T) {
	podman500 := errors.New(`Error response from daemon: container bbeac04ec2fb6c33 does not exist in database: no such container`)
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"docker 404", fmt.Errorf("inspect: %w", cerrdefs.ErrNotFound), true},
		{"podman 500 during removal", podman500, true},
		{"other 500", errors.New("Error response from daemon: container state improper"), false},
		{"no such image", errors.New("Error response from daemon: no such image: x"), false},
	} {
		if got := containerGone(c.err); got != c.want {
			t.Errorf("%s: containerGone = %t, want %t", c.name, got, c.want)
		}
		if mapped := podmanNotFound(c.err); c.err != nil && !errors.Is(mapped, c.err) {
			t.Errorf("%s: the mapped error %v lost the engine's", c.name, mapped)
		}
	}
}

// lostContainerClient answers every stop and remove as Podman does for a
// container removed meanwhile.
type lostContainerClient struct{ client.APIClient }

func (lostContainerClient) ContainerStop(context.Context, string, client.ContainerStopOptions) (client.ContainerStopResult, error) {
	return client.ContainerStopResult{}, errors.New("Error response from daemon: container 0a1b does not exist in database: no such container")
}

func (lostContainerClient) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	return client.ContainerRemoveResult{}, errors.New("Error response from daemon: container 0a1b does not exist in database: no such container")
}

// Compose's client on Podman answers not found for such a container, as it
// does on Docker, so that compose treats it as gone.
func TestPodmanClientLostContainerIsNotFound(t *testing.T) {
	c := podmanClient{APIClient: lostContainerClient{}}
	if _, err := c.ContainerStop(t.Context(), "0a1b", client.ContainerStopOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("stop: %v is not a not-found error", err)
	}
	if _, err := c.ContainerRemove(t.Context(), "0a1b", client.ContainerRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove: %v is not a not-found error", err)
	}
}
