package deploy

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// foreignContainers creates n containers (not started) that carry devarch
// labels of stacks the test's stacks are not: another installation's, or
// orphans. They are removed when the test ends.
type foreignContainers struct {
	t      *testing.T
	rt     *Runtime
	image  string
	prefix string
	mu     sync.Mutex
	ids    []string
}

func newForeignContainers(t *testing.T, rt *Runtime) *foreignContainers {
	f := &foreignContainers{t: t, rt: rt, image: testenv.TestImage, prefix: testenv.UniqueName("foreign-")}
	t.Cleanup(f.removeAll)
	return f
}

// grow creates containers until there are n.
func (f *foreignContainers) grow(n int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := len(f.ids); i < n; i++ {
		g.Go(func() error {
			// 5 containers per foreign stack, stack ids far from the tests'.
			stackID := int64(1_000_000_000 + i/5)
			name := fmt.Sprintf("%s-%d", f.prefix, i)
			labels := managedLabels(stackID, int64(i%5+1), f.prefix+"-"+strconv.FormatInt(stackID, 10), "svc"+strconv.Itoa(i%5))
			res, err := f.rt.Client().ContainerCreate(gctx, client.ContainerCreateOptions{Name: name,
				Config: &container.Config{Image: f.image, Labels: labels, Env: []string{"FOREIGN=" + name}}})
			if err != nil {
				return fmt.Errorf("create %s: %w", name, err)
			}
			f.mu.Lock()
			f.ids = append(f.ids, res.ID)
			f.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *foreignContainers) removeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range f.ids {
		g.Go(func() error {
			_, _ = f.rt.Client().ContainerRemove(gctx, id, client.ContainerRemoveOptions{Force: true})
			return nil
		})
	}
	_ = g.Wait()
}

// TestStackObservationIgnoresTheRestOfTheEngine: with 10, 100 and then
// 2,000 foreign labelled containers on the engine (created, not started),
//
//   - a stop of a managed stack's container is seen from its event by one
//     observation of that stack (Observer.SnapshotStack), whose engine calls
//     stay the same whatever the foreign count;
//   - that observation plans the stack exactly as a whole-engine snapshot
//     does (same plan.Observed);
//   - the full pass (SnapshotOf the stacks the caller plans) lists the
//     foreign containers, for the orphan count, but never inspects them.
func TestStackObservationIgnoresTheRestOfTheEngine(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "web", spec.Overrides{}), sleeperInstance(2, "worker", spec.Overrides{}))
	f.apply()
	rt, st := f.rt, f.stack
	obs := rt.NewObserver() // the whole engine, as serve's
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Read the engine's events all the time, as the controller does: the
	// engine drops the events of a subscriber that falls behind, and the
	// foreign containers' creation makes thousands.
	all, errs := rt.Events(ctx)
	evs := make(chan Event, 64)
	go func() {
		for ev := range all {
			if ev.StackID == st.ID {
				evs <- ev
			}
		}
		<-errs
	}()
	want := func(id int64) bool { return id == st.ID }
	foreign := newForeignContainers(t, rt)
	web := f.container("web")

	var perEvent []Calls
	for _, n := range []int{10, 100, 2000} {
		foreign.grow(n)
		before := rt.Calls()
		full, err := obs.SnapshotOf(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		calls := rt.Calls().Sub(before)
		if calls.ContainerInspects > int64(len(st.Instances)) {
			t.Errorf("%d foreign: the full pass inspected %d containers, want at most the stack's %d", n, calls.ContainerInspects, len(st.Instances))
		}
		orphans := FindOrphans(full, map[int64]bool{st.ID: true})
		if got := countPrefix(orphans, foreign.prefix); got != n {
			t.Errorf("%d foreign: the full pass names %d of them as orphans, want %d", n, got, n)
		}
		// The stack's own snapshot sees what the whole engine's does. The
		// two are taken one after the other, and a container's health may
		// change in between (the healthcheck runs every second): compare
		// again until the stack holds still.
		var one Snapshot
		for attempt := 1; ; attempt++ {
			if one, err = obs.SnapshotStack(ctx, st); err != nil {
				t.Fatal(err)
			}
			a, b := full.For(st), one.For(st)
			if reflect.DeepEqual(a, b) {
				break
			}
			if attempt == 10 {
				t.Fatalf("%d foreign: the stack's own snapshot observes\n%+v\nthe whole engine's\n%+v", n, b, a)
			}
			time.Sleep(time.Second)
			if full, err = obs.SnapshotOf(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := plan.Compute(plan.Desired{Stack: st, Paths: f.opts.Paths}, one.For(st), time.Now()); err != nil || !p.Empty() {
			t.Fatalf("%d foreign: plan from the stack's snapshot: %v, empty %v", n, err, p != nil && p.Empty())
		}

		// Stop web: its event, then one observation of the stack.
		stopContainer(t, rt, containerID(t, rt, web))
		ev := waitEvent(t, evs, st.ID, "die")
		obs.HandleEvent(ev)
		before, listed := rt.Calls(), rt.listedContainers()
		one, err = obs.SnapshotStack(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		perEvent = append(perEvent, rt.Calls().Sub(before))
		if got := rt.listedContainers() - listed; got != int64(len(st.Instances)) {
			t.Errorf("%d foreign: the stack's observation listed %d containers, want its own %d", n, got, len(st.Instances))
		}
		if state := stateOf(one.Containers[st.ID], web); state != spec.StateExited {
			t.Errorf("%d foreign: after the stop the stack's snapshot says %s is %q, want exited", n, web, state)
		}
		if _, err := rt.Client().ContainerStart(ctx, containerID(t, rt, web), client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, evs, st.ID, "start")
	}
	t.Logf("engine calls of the stack's observation after its event, with 10, 100 and 2,000 foreign containers: %+v", perEvent)
	for i, c := range perEvent {
		// Inspects: the stopped container, and the Observer's own inspect
		// that waits for the engine to settle the exit, which may land in
		// the window or not.
		if c.ContainerLists != perEvent[0].ContainerLists || c.OtherLists != perEvent[0].OtherLists || c.ImageInspects != 0 ||
			c.ImageLookups != perEvent[0].ImageLookups ||
			c.ContainerInspects > int64(len(st.Instances)) {
			t.Errorf("engine calls per event grew with the foreign containers (round %d): %+v", i, perEvent)
			break
		}
	}
}

func countPrefix(o Orphans, prefix string) int {
	n := 0
	for _, c := range o.Containers {
		if len(c.Name) > len(prefix) && c.Name[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func containerID(t *testing.T, rt *Runtime, name string) string {
	t.Helper()
	res, err := rt.Client().ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.ID
}

func stateOf(cs []spec.Container, name string) string {
	for _, c := range cs {
		if c.Name == name {
			return c.State
		}
	}
	return ""
}

// waitEvent waits for the action of a container of stack stackID.
func waitEvent(t *testing.T, evs <-chan Event, stackID int64, action string) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.StackID == stackID && ev.Action == action {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event of stack %d within 30s", action, stackID)
		}
	}
}
