package deploy

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// createRawNetwork creates a network directly, removing it when the test
// ends.
func createRawNetwork(t *testing.T, rt *Runtime, name string, labels map[string]string) string {
	t.Helper()
	res, err := rt.Client().NetworkCreate(context.Background(), name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = rt.Client().NetworkRemove(context.Background(), res.ID, client.NetworkRemoveOptions{}) })
	return res.ID
}

func TestEnsureNetwork(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	stack := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("net")}
	name := stack.Network()
	t.Cleanup(func() { _ = rt.RemoveNetwork(context.Background(), name) })

	created, err := rt.EnsureNetwork(ctx, name, NetworkLabels(stack))
	if err != nil || !created {
		t.Fatalf("EnsureNetwork = %v, %v; want created", created, err)
	}
	nets, err := rt.networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 || nets[0].Driver != "bridge" || !maps.Equal(nets[0].Labels, NetworkLabels(stack)) {
		t.Fatalf("networks named %s = %+v, want one bridge with the stack's labels", name, nets)
	}
	for range 2 {
		created, err = rt.EnsureNetwork(ctx, name, NetworkLabels(stack))
		if err != nil || created {
			t.Fatalf("EnsureNetwork again = %v, %v; want existing", created, err)
		}
	}
	if nets, _ := rt.networksNamed(ctx, name); len(nets) != 1 {
		t.Errorf("%d networks named %s after repeated ensures, want 1", len(nets), name)
	}

	other := stack
	other.ID++
	_, err = rt.EnsureNetwork(ctx, name, NetworkLabels(other))
	var own *NetworkOwnershipError
	if !errors.As(err, &own) || own.OwnerStackID == "" || !strings.Contains(err.Error(), "belongs to another stack of this controller (stack id ") {
		t.Errorf("EnsureNetwork for another stack: err = %v, want a NetworkOwnershipError naming the owner", err)
	}

	if err := rt.RemoveNetwork(ctx, name); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if nets, _ := rt.networksNamed(ctx, name); len(nets) != 0 {
		t.Errorf("network %s still exists after RemoveNetwork", name)
	}
	if err := rt.RemoveNetwork(ctx, name); err != nil {
		t.Errorf("RemoveNetwork of a missing network: %v", err)
	}
}

func TestEnsureNetworkRefusesForeignNetwork(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	name := testenv.UniqueName("foreign-net-")
	createRawNetwork(t, rt, name, map[string]string{"owner": "someone else"})
	stack := spec.Stack{ID: randomStackID(), Name: "x"}

	_, err := rt.EnsureNetwork(ctx, name, NetworkLabels(stack))
	var own *NetworkOwnershipError
	if !errors.As(err, &own) || own.OwnerStackID != "" {
		t.Fatalf("err = %v, want a NetworkOwnershipError without owner", err)
	}
	want := `network "` + name + `" exists but was not created by this controller (it lacks the label devarch.managed_by=devarch); remove or rename it, or set the stack's network_name to another name`
	if err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
	if err := rt.RemoveNetwork(ctx, name); !errors.As(err, &own) {
		t.Errorf("RemoveNetwork of a foreign network: err = %v, want a NetworkOwnershipError", err)
	}
	if nets, _ := rt.networksNamed(ctx, name); len(nets) != 1 {
		t.Errorf("foreign network touched: %d networks named %s", len(nets), name)
	}

	// The engine's name filter matches substrings: a foreign network whose
	// name merely contains ours must not count as ours.
	short := name[:len(name)-2]
	t.Cleanup(func() { _ = rt.RemoveNetwork(context.Background(), short) })
	if created, err := rt.EnsureNetwork(ctx, short, NetworkLabels(stack)); err != nil || !created {
		t.Errorf("EnsureNetwork(%q) next to foreign %q = %v, %v; want created", short, name, created, err)
	}
}

func TestEnsureNetworkToleratesDuplicateNames(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	stack := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("dup")}
	name := stack.Network()
	// Engines before API 1.44 allow two networks with one name.
	createRawNetwork(t, rt, name, NetworkLabels(stack))
	createRawNetwork(t, rt, name, NetworkLabels(stack))
	if created, err := rt.EnsureNetwork(ctx, name, NetworkLabels(stack)); err != nil || created {
		t.Errorf("EnsureNetwork with two managed duplicates = %v, %v; want existing", created, err)
	}
	if err := rt.RemoveNetwork(ctx, name); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if nets, _ := rt.networksNamed(ctx, name); len(nets) != 0 {
		t.Errorf("%d networks named %s left", len(nets), name)
	}
}

func TestRemoveNetworkInUse(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	stack := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("use")}
	name := stack.Network()
	if _, err := rt.EnsureNetwork(ctx, name, NetworkLabels(stack)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.RemoveNetwork(context.Background(), name) })
	createContainer(t, rt, client.ContainerCreateOptions{
		Name:             spec.ContainerName(stack.Name, "api"),
		Config:           &container.Config{Image: testenv.TestImage},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: {}}},
	}, true)
	if err := rt.RemoveNetwork(ctx, name); !errors.Is(err, ErrNetworkInUse) {
		t.Errorf("RemoveNetwork with a running container attached: err = %v, want ErrNetworkInUse", err)
	}
}

func TestEnsureNetworkConcurrentCreatesLeaveOne(t *testing.T) {
	rt := newTestRuntime(t)
	stack := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("race")}
	name := stack.Network()
	t.Cleanup(func() { _ = rt.RemoveNetwork(context.Background(), name) })
	const racers = 6
	var wg sync.WaitGroup
	created := make(chan bool, racers)
	for range racers {
		wg.Go(func() {
			c, err := rt.EnsureNetwork(context.Background(), name, NetworkLabels(stack))
			if err != nil {
				t.Errorf("EnsureNetwork: %v", err)
			}
			created <- c
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	nets, err := rt.networksNamed(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 || n != 1 {
		t.Errorf("%d networks named %s and %d racers reporting created; want 1 and 1", len(nets), name, n)
	}
}
