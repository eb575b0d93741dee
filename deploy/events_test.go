package deploy

import (
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestObserverEventBookkeeping checks the generations behind HandleEvent
// without an engine: a die is shown provisionally only while it is the
// container's latest event and cached; a pass keeps the marks of deaths
// still being handled and of events that came during the pass.
func TestObserverEventBookkeeping(t *testing.T) {
	o := &Observer{seen: map[string]observed{}, dirty: map[string]uint64{}, dirtyStack: map[string]int64{}, died: map[string]death{}}
	o.seen["c1"] = observed{fingerprint: "running", container: spec.Container{ID: "c1", State: spec.StateRunning, Health: spec.HealthHealthy}}
	mark := func(id string, d *death) {
		o.gen++
		o.dirty[id] = o.gen
		if d != nil {
			d.gen = o.gen
			o.died[id] = *d
		}
	}

	mark("c1", &death{exitCode: 137, stackID: 7})
	dirty, died := o.takeDirty(0)
	got, ok := o.provisional("c1", dirty, died)
	if !ok || got.container.State != spec.StateExited || got.container.ExitCode != 137 || got.container.Health != "" || got.fingerprint != "" {
		t.Fatalf("provisional after a die = %+v, %v; want exited (137), no health, no fingerprint", got, ok)
	}
	if o.seen["c1"].container.State != spec.StateRunning {
		t.Fatal("the provisional observation changed the cached one")
	}
	if _, ok := o.provisional("c2", dirty, died); ok {
		t.Error("a container never observed was shown provisionally")
	}

	// A pass handled the marks: the death's mark stays (it was shown
	// provisionally), another container's goes.
	mark("c3", nil)
	dirty, died = o.takeDirty(0)
	o.clearDirty(dirty, died)
	if _, ok := o.dirty["c1"]; !ok {
		t.Error("the mark of a death still being handled was cleared")
	}
	if _, ok := o.dirty["c3"]; ok {
		t.Error("a handled mark was kept")
	}

	// An event after the die (a destroy, a start): the die is no longer
	// the latest event, so the container is inspected, not shown
	// provisionally.
	taken, takenDied := o.takeDirty(0)
	mark("c1", nil)
	dirty, died = o.takeDirty(0)
	if _, ok := o.provisional("c1", dirty, died); ok {
		t.Error("a die followed by another event was shown provisionally")
	}
	// A pass that took its marks before that event keeps the new mark.
	o.clearDirty(taken, takenDied)
	if o.dirty["c1"] != o.gen {
		t.Errorf("mark of c1 = %d after a pass that started before it, want %d kept", o.dirty["c1"], o.gen)
	}
}

// TestHandleEventKeepsToItsSelection: an Observer of one stack ignores the
// events of other stacks' containers (the engine's event stream carries
// every managed container's), so it neither marks them nor settles them
// for its stack.
func TestHandleEventKeepsToItsSelection(t *testing.T) {
	o := &Observer{
		selectors: map[string]string{spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: "7"},
		seen:      map[string]observed{}, dirty: map[string]uint64{}, dirtyStack: map[string]int64{}, died: map[string]death{},
	}
	other := Event{StackID: 8, ContainerID: "c8", Action: "start",
		labels: map[string]string{spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: "8"}}
	o.HandleEvent(other)
	if len(o.dirty) != 0 {
		t.Errorf("another stack's event marked %v", o.dirty)
	}
	own := Event{StackID: 7, ContainerID: "c7", Action: "start",
		labels: map[string]string{spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: "7"}}
	o.HandleEvent(own)
	if _, ok := o.dirty["c7"]; !ok {
		t.Error("the stack's own event marked nothing")
	}
}

// TestEventChangesState: a kill (a die follows when the process ends) and
// the events that only read or use a container need no pass; everything
// that can change an observation does, including actions this list does
// not know.
func TestEventChangesState(t *testing.T) {
	for _, action := range []string{"kill", "attach", "detach", "resize", "top", "export", "commit", "copy", "archive-path", "extract-to-dir"} {
		if (Event{Action: action}).ChangesState() {
			t.Errorf("%s: ChangesState() = true, want false", action)
		}
	}
	for _, action := range []string{"die", "stop", "start", "restart", "create", "destroy", "pause", "unpause", "rename", "update", "oom", "health_status: unhealthy", "some-new-action"} {
		if !(Event{Action: action}).ChangesState() {
			t.Errorf("%s: ChangesState() = false, want true", action)
		}
	}
}
