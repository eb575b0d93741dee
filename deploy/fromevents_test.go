package deploy

import (
	"context"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// TestStackObservationFromEvents: under FromEvents, a stack's observation
// after an event of its container lists nothing: the cache (made by a
// full pass and kept by events) answers, and only the event's container is
// looked at. It lists again without events of the stack, without
// FromEvents, after an apply, and once the event stream has ended.
func TestStackObservationFromEvents(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "web", spec.Overrides{}), sleeperInstance(2, "worker", spec.Overrides{}))
	f.apply()
	rt, st := f.rt, f.stack
	obs := rt.NewObserver()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	streamCtx, endStream := context.WithCancel(ctx)
	all, errs := rt.Events(streamCtx)
	evs := make(chan Event, 64)
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for ev := range all {
			if ev.StackID == st.ID {
				obs.HandleEvent(ev) // as the reconcile loop does
				evs <- ev
			}
		}
		<-errs
	}()
	if _, err := obs.SnapshotOf(ctx, func(id int64) bool { return id == st.ID }); err != nil {
		t.Fatal(err)
	}
	web := f.container("web")
	fromEvents := FromEvents(ctx)
	observe := func(ctx context.Context, step string, wantLists, wantCached int64, wantState string) {
		t.Helper()
		before := rt.Calls()
		snap, err := obs.SnapshotStack(ctx, st)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		calls := rt.Calls().Sub(before)
		if calls.ContainerLists != wantLists || calls.FromCache != wantCached {
			t.Errorf("%s: %d container lists and %d observations from the cache, want %d and %d", step, calls.ContainerLists, calls.FromCache, wantLists, wantCached)
		}
		if got := stateOf(snap.Containers[st.ID], web); got != wantState {
			t.Errorf("%s: %s is %q, want %q", step, web, got, wantState)
		}
		if len(snap.Containers[st.ID]) != len(st.Instances) {
			t.Errorf("%s: %d containers, want %d", step, len(snap.Containers[st.ID]), len(st.Instances))
		}
	}

	observe(fromEvents, "no event since the full pass", 1, 0, spec.StateRunning)
	stopContainer(t, rt, containerID(t, rt, web))
	waitEvent(t, evs, st.ID, "die")
	observe(fromEvents, "after its die event", 0, 1, spec.StateExited)
	observe(ctx, "without FromEvents", 1, 0, spec.StateExited)

	f.apply() // starts web again
	waitEvent(t, evs, st.ID, "start")
	observe(fromEvents, "after an apply", 1, 0, spec.StateRunning)
	stopContainer(t, rt, containerID(t, rt, web))
	waitEvent(t, evs, st.ID, "die")
	observe(fromEvents, "after the next die event", 0, 1, spec.StateExited)

	endStream()
	<-streamDone
	obs.HandleEvent(Event{StackID: st.ID, ContainerID: containerID(t, rt, web), Action: "start"})
	observe(fromEvents, "once the event stream ended", 1, 0, spec.StateExited)
}
