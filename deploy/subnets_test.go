package deploy

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// subnetStore is a fresh database whose store manages subnets from pool.
func subnetStore(t *testing.T, pool string, bits int) *state.Store {
	t.Helper()
	p, problems := spec.ParseSubnetPool(pool, bits)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, url, "deploy-subnets-test", state.WithSubnetPool(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// allocatedStacks inserts n stacks and reads them back from the store:
// each carries the subnet the store allocated from its pool.
func allocatedStacks(t *testing.T, st *state.Store, n int) []spec.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n {
		if _, err := st.Pool().Exec(ctx, `INSERT INTO stacks (name) VALUES ($1)`, testenv.UniqueName("sn")); err != nil {
			t.Fatal(err)
		}
	}
	stacks, err := st.Stacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) != n {
		t.Fatalf("read %d stacks, inserted %d", len(stacks), n)
	}
	return stacks
}

// subnetOf returns the subnets of the network named name on rt's engine.
func subnetOf(t *testing.T, rt *Runtime, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nets, err := rt.networksNamed(ctx, name)
	if err != nil || len(nets) != 1 {
		t.Fatalf("network %s: %d found, %v", name, len(nets), err)
	}
	return networkSubnets(nets[0].Network)
}

// tearDown removes a stack's containers and network from rt's engine.
func tearDown(t *testing.T, rt *Runtime, s spec.Stack, o ApplyOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	down := s
	down.Enabled = false
	if _, err := rt.Apply(ctx, down, o, nil); err != nil {
		t.Logf("tear down stack %s: %v", s.Name, err)
	}
	anon := anonymousVolumes(ctx, rt, s.ID)
	if err := rt.RemoveNetwork(ctx, s.Network()); err != nil {
		t.Logf("remove network %s: %v", s.Network(), err)
	}
	for _, v := range anon {
		_, _ = rt.Client().VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true})
	}
	vols, _ := rt.Client().VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+itoa(s.ID))})
	for _, v := range vols.Items {
		_, _ = rt.Client().VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
	}
}

// TestApplyFortyStacksWithSubnetPool: with network.subnet_pool set, 40
// stacks (more than Docker's default pools hold) all apply on the default
// engine, each network with the subnet allocated in PostgreSQL, and each
// plan is empty afterwards. The stacks take no subnet of the engine's own
// pools, which other tests share.
func TestApplyFortyStacksWithSubnetPool(t *testing.T) {
	const n = 40
	st := subnetStore(t, "10.199.0.0/16", 24)
	stacks := allocatedStacks(t, st, n)
	e := testenv.Engine{Name: testenv.EngineDocker}
	e.Client(t)
	rt, err := NewRuntime(e.Host, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	o := poolApplyOptions(t)
	for i := range stacks {
		s := &stacks[i]
		s.Enabled = true
		s.Instances = []spec.Instance{sleeperInstance(1, "app", spec.Overrides{ServiceSpec: spec.ServiceSpec{Healthcheck: &spec.Healthcheck{Disable: true}}})}
		t.Cleanup(func() { tearDown(t, rt, *s, o) })
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				_, errs[i] = rt.Apply(ctx, stacks[i], o, nil)
				cancel()
			}
		})
	}
	start := time.Now()
	for i := range stacks {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("applied %d stacks in %s", n, time.Since(start).Round(time.Millisecond))
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			t.Errorf("apply stack %d (%s, subnet %s): %v", i, stacks[i].Name, stacks[i].Subnet, err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d stacks failed to apply", failed, n)
	}
	obs := rt.NewObserver(spec.LabelManagedBy + "=" + spec.ManagedByValue)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := obs.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, s := range stacks {
		if got := snap.NetworkSubnets[s.Network()]; !slices.Equal(got, []string{s.Subnet}) {
			t.Errorf("network %s has subnets %v, allocated %s", s.Network(), got, s.Subnet)
		}
		if other, dup := seen[s.Subnet]; dup {
			t.Errorf("stacks %s and %s share %s", other, s.Name, s.Subnet)
		}
		seen[s.Subnet] = s.Name
		p, err := plan.Compute(plan.Desired{Stack: s, Paths: o.Paths}, snap.For(s), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !p.Empty() {
			var b strings.Builder
			_ = p.WriteText(&b, plan.TextOptions{})
			t.Errorf("stack %s after apply:\n%s", s.Name, b.String())
		}
	}
}

// TestApplySubnetDriftRecreatesNetwork: a stack's network found with
// another subnet than allocated (the pool changed) is shown as "~ network
// … subnet A → B" with its container recreated, and apply recreates the
// network with the new subnet; the plan is empty afterwards.
func TestApplySubnetDriftRecreatesNetwork(t *testing.T) {
	testenv.EachEngine(t, testApplySubnetDriftRecreatesNetwork)
}

func testApplySubnetDriftRecreatesNetwork(t *testing.T, e testenv.Engine) {
	t.Parallel() // the engines side by side, each with subnets of its own
	oldSubnet, newSubnet := "10.198.1.0/24", "10.198.2.0/24"
	if e.Name != testenv.EngineDocker {
		oldSubnet, newSubnet = "10.198.11.0/24", "10.198.12.0/24"
	}
	f := newEngineFixture(t, e, sleeperInstance(1, "a", spec.Overrides{}))
	f.stack.Subnet = oldSubnet
	first := f.plan()
	if len(first.Resources) != 1 || first.Resources[0].Action != plan.ResourceCreate || first.Resources[0].Subnet != oldSubnet {
		t.Fatalf("first plan resources %+v, want the network created with %s", first.Resources, oldSubnet)
	}
	f.apply()
	if got := subnetOf(t, f.rt, f.stack.Network()); !slices.Equal(got, []string{oldSubnet}) {
		t.Fatalf("network subnets %v after the first apply", got)
	}
	f.requireEmptyPlan("after the first apply")
	before := f.containerStarts()

	f.stack.Subnet = newSubnet
	p := f.plan()
	var text strings.Builder
	_ = p.WriteText(&text, plan.TextOptions{})
	if want := "~ network " + f.stack.Network() + " subnet " + oldSubnet + " → " + newSubnet; !strings.Contains(text.String(), want) {
		t.Fatalf("plan lacks %q:\n%s", want, text.String())
	}
	if len(p.Changes) != 1 || !p.Changes[0].Recreate {
		t.Fatalf("plan changes %+v, want the container recreated", p.Changes)
	}
	res := f.apply()
	if got := subnetOf(t, f.rt, f.stack.Network()); !slices.Equal(got, []string{newSubnet}) {
		t.Fatalf("network subnets %v after the drift apply", got)
	}
	if !res.NetworkCreated || len(res.Recreated) != 1 {
		t.Errorf("result %+v, want the network created and one container recreated", res)
	}
	after := f.containerStarts()
	if b, a := slices.Sorted(maps.Values(before)), slices.Sorted(maps.Values(after)); slices.Equal(b, a) {
		t.Errorf("container ids unchanged %v: not recreated", after)
	}
	f.requireEmptyPlan("after the drift apply")
}

// TestApplySubnetPoolFullFailsNetworkPhase: a stack the pool had no subnet
// for fails the network phase with the pool's explanation, creating
// nothing.
func TestApplySubnetPoolFullFailsNetworkPhase(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{}))
	f.stack.SubnetProblem = "the controller's subnet pool 10.198.0.0/30 has no free subnet left for the network of stack \"x\""
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
	ae, ok := errors.AsType[*ApplyError](err)
	if !ok || ae.Phase != PhaseNetwork {
		t.Fatalf("err = %v, want a network phase error", err)
	}
	if _, ok := errors.AsType[*SubnetPoolError](err); !ok || !strings.Contains(err.Error(), "10.198.0.0/30") {
		t.Fatalf("err = %v, want a *SubnetPoolError naming the pool", err)
	}
	if nets, _ := f.rt.networksNamed(ctx, f.stack.Network()); len(nets) > 0 {
		t.Errorf("the network was created with the engine's pools: %+v", nets)
	}
}

// TestApplyTinyEngineWithSubnetPool: on an engine whose default address
// pools hold one network, a second stack fails without the subnet pool
// and several apply with it.
func TestApplyTinyEngineWithSubnetPool(t *testing.T) {
	rt := tinyPoolEngine(t)
	ctx := context.Background()
	o := poolApplyOptions(t)
	first := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("pool")}
	if _, err := rt.Apply(ctx, first, o, nil); err != nil {
		t.Fatalf("apply of the first stack (the engine's pool holds one network): %v", err)
	}
	second := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("pool")}
	if _, err := rt.Apply(ctx, second, o, nil); !IsAddressPoolExhausted(err) {
		t.Fatalf("second stack without the subnet pool: err = %v, want the engine's pool exhausted", err)
	}
	st := subnetStore(t, "10.197.0.0/24", 28)
	stacks := allocatedStacks(t, st, 5)
	for _, s := range stacks {
		if _, err := rt.Apply(ctx, s, o, nil); err != nil {
			t.Errorf("apply of stack %s with subnet %s: %v", s.Name, s.Subnet, err)
			continue
		}
		if got := subnetOf(t, rt, s.Network()); !slices.Equal(got, []string{s.Subnet}) {
			t.Errorf("network %s has %v, allocated %s", s.Network(), got, s.Subnet)
		}
	}
}
