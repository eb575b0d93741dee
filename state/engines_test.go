package state_test

import (
	"testing"

	"github.com/devarch/devarch-controller/state"
)

// TestStackEngineStored: a stack's engine is stored, read back, changed by
// a later import (a change: the stack moves), and kept in its revisions.
func TestStackEngineStored(t *testing.T) {
	s, ctx := seededStore(t)
	st := shopStack("shop")
	st.Engine = "edge"
	importStack(t, s, st)
	got, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got.Engine != "edge" {
		t.Fatalf("Engine = %q; want edge", got.Engine)
	}
	st.Engine = ""
	res := importStack(t, s, st)
	if res.StackAction != state.ActionUpdated {
		t.Errorf("moving the stack to the default engine: stack action %q; want %q", res.StackAction, state.ActionUpdated)
	}
	if got, _ = s.Stack(ctx, "shop"); got.Engine != "" {
		t.Errorf("Engine after the move = %q; want empty (the default engine)", got.Engine)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET engine = 'Not Valid' WHERE name = 'shop'`); err == nil {
		t.Error("the database took an engine name that is not one")
	}
}
