package reconcile

import (
	"errors"
	"testing"
)

// TestFirstPassDoneAfterAFullPassReadTheDatabase: the controller counts as
// having finished its first pass (readiness, the dashboard's banner) once
// a full pass has planned every stack; a pass that could not read the
// database does not count, one that found the engine down does (its
// stacks' statuses, Error, are correct).
func TestFirstPassDoneAfterAFullPassReadTheDatabase(t *testing.T) {
	w := newFakeWorld(unitStack(1, "shop"), unitStack(2, "blog"))
	c := newUnitController(t, w)
	if c.FirstPassDone() {
		t.Fatal("first pass done before any pass")
	}
	w.stacksErr = errors.New("connection refused")
	c.Resync(t.Context())
	if c.FirstPassDone() {
		t.Fatal("a pass that could not read the stacks counted as the first pass")
	}
	w.stacksErr = nil
	w.snapErr = errors.New("engine down")
	c.Resync(t.Context())
	if !c.FirstPassDone() {
		t.Fatal("a pass that read every stack (engine down) did not count")
	}
	select {
	case <-c.FirstPass():
	default:
		t.Fatal("FirstPass's channel is open after the first pass")
	}
	if st := c.Statuses(); len(st) != 2 {
		t.Errorf("statuses after the first pass: %d, want 2", len(st))
	}
}
