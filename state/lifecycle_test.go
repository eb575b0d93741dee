package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/state"
)

// rowDigest is a digest of every stack and instance row, to show that a
// refused change wrote nothing.
const rowDigest = `SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
	SELECT row(s.*)::text AS x FROM stacks s UNION ALL SELECT row(i.*)::text FROM instances i) rows`

func digestRows(t *testing.T, s *state.Store) string {
	t.Helper()
	var d string
	if err := s.Pool().QueryRow(testContext(t), rowDigest).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeleteStackChecked(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))

	got, err := s.DeleteStackChecked(ctx, "shop", state.DeleteStackOptions{})
	if err != nil || !got.Changed || got.StackID != res.StackID {
		t.Fatalf("delete: %+v, %v", got, err)
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil || !st.Deleting || st.RemoveVolumes || len(st.Instances) != 0 {
		t.Fatalf("after delete: %+v, %v; want deleting, volumes kept, no instances", st, err)
	}
	// Deleting again changes nothing but may ask for the volumes.
	got, err = s.DeleteStackChecked(ctx, "shop", state.DeleteStackOptions{RemoveVolumes: true})
	if err != nil || got.Changed || got.StackID != res.StackID {
		t.Fatalf("second delete: %+v, %v; want unchanged", got, err)
	}
	if st, _ := s.Stack(ctx, "shop"); !st.RemoveVolumes {
		t.Error("second delete with volumes did not record the volume removal")
	}
	// Live stacks cannot be disabled once deleting.
	if _, err := s.SetStackEnabledChecked(ctx, "shop", false); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("disable a deleting stack: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteStackChecked(ctx, "nope", state.DeleteStackOptions{}); !errors.Is(err, state.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("delete unknown: %v, want ErrNotFound naming it", err)
	}
	// A new stack of the same name is live beside the deleting one: the
	// name refers to the live one.
	again := importStack(t, s, shopStack("shop"))
	if st, err := s.Stack(ctx, "shop"); err != nil || st.Deleting || st.ID != again.StackID {
		t.Errorf("name after a re-import: %+v, %v; want the live stack", st.ID, err)
	}
	if byID, err := s.StackByID(ctx, res.StackID); err != nil || !byID.Deleting {
		t.Errorf("old stack by id: %v, %v; want deleting", byID.Deleting, err)
	}
	known, err := s.KnownStackIDs(ctx)
	if err != nil || !known[res.StackID] || !known[again.StackID] {
		t.Errorf("KnownStackIDs = %v, %v; want both", known, err)
	}
	if done, err := s.FinalizeStack(ctx, again.StackID); err != nil || done {
		t.Errorf("FinalizeStack of a live stack = %v, %v; want false (left alone)", done, err)
	}
	if done, err := s.FinalizeStack(ctx, res.StackID); err != nil || !done {
		t.Errorf("FinalizeStack = %v, %v", done, err)
	}
	if known, _ := s.KnownStackIDs(ctx); known[res.StackID] {
		t.Error("a removed stack is still known; its leftovers would not count as orphans")
	}
	if _, err := s.StackByID(ctx, res.StackID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("removed stack by id: %v, want ErrNotFound", err)
	}
}

// TestLifecycleRefusedWhileApplying: with an approval applying, every
// lifecycle change answers ErrApplying naming the stack, and writes
// nothing.
func TestLifecycleRefusedWhileApplying(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	a := fileApproval(t, s, res.StackID, 0)
	if got := claim(t, s, res.StackID); got.ID != a.ID {
		t.Fatalf("claimed %d, want %d", got.ID, a.ID)
	}
	before := digestRows(t, s)
	changes := map[string]func() error{
		"delete": func() error {
			_, err := s.DeleteStackChecked(ctx, "shop", state.DeleteStackOptions{RemoveVolumes: true})
			return err
		},
		"disable":          func() error { _, err := s.SetStackEnabledChecked(ctx, "shop", false); return err },
		"delete instance":  func() error { _, err := s.DeleteInstanceChecked(ctx, "shop", "worker"); return err },
		"enable instance":  func() error { _, err := s.SetInstanceEnabledChecked(ctx, "shop", "worker", true); return err },
		"disable instance": func() error { _, err := s.SetInstanceEnabledChecked(ctx, "shop", "db", false); return err },
	}
	for name, change := range changes {
		err := change()
		if !errors.Is(err, state.ErrApplying) || !strings.Contains(err.Error(), `"shop"`) {
			t.Errorf("%s: %v, want ErrApplying naming the stack", name, err)
		}
	}
	if after := digestRows(t, s); after != before {
		t.Error("a refused change wrote to the stacks or instances")
	}
}

func TestSetEnabledChecked(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	steps := []struct {
		name    string
		do      func() (state.LifecycleResult, error)
		changed bool
	}{
		{"disable stack", func() (state.LifecycleResult, error) { return s.SetStackEnabledChecked(ctx, "shop", false) }, true},
		{"disable stack again", func() (state.LifecycleResult, error) { return s.SetStackEnabledChecked(ctx, "shop", false) }, false},
		{"enable stack", func() (state.LifecycleResult, error) { return s.SetStackEnabledChecked(ctx, "shop", true) }, true},
		{"enable disabled instance", func() (state.LifecycleResult, error) { return s.SetInstanceEnabledChecked(ctx, "shop", "worker", true) }, true},
		{"enable it again", func() (state.LifecycleResult, error) { return s.SetInstanceEnabledChecked(ctx, "shop", "worker", true) }, false},
		{"delete instance", func() (state.LifecycleResult, error) { return s.DeleteInstanceChecked(ctx, "shop", "worker") }, true},
	}
	for _, step := range steps {
		got, err := step.do()
		if err != nil || got.Changed != step.changed {
			t.Errorf("%s: %+v, %v; want changed %v", step.name, got, err, step.changed)
		}
	}
	if _, err := s.DeleteInstanceChecked(ctx, "shop", "worker"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("delete a deleted instance: %v, want ErrNotFound", err)
	}
	if _, err := s.SetInstanceEnabledChecked(ctx, "nope", "db", false); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown stack: %v, want ErrNotFound", err)
	}
}

// TestApprovalOfDeletingStack: a deleting stack takes the approval of its
// removal plan.
func TestApprovalOfDeletingStack(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	if _, err := s.DeleteStackChecked(ctx, "shop", state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	a := fileApproval(t, s, res.StackID, 0)
	if a.Stack != "shop" {
		t.Errorf("approval of the deleting stack names %q", a.Stack)
	}
}

// TestDeleteStackResetsAStaleVolumeFlag: a remove_volumes flag left on a
// live stack (by a delete that failed after recording it) does not remove
// volumes on a later delete without --volumes.
func TestDeleteStackResetsAStaleVolumeFlag(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET remove_volumes = true WHERE id = $1`, res.StackID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteStackChecked(ctx, "shop", state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.StackByID(ctx, res.StackID); err != nil || !st.Deleting || st.RemoveVolumes {
		t.Errorf("deleted without volumes: deleting %v, remove_volumes %v, %v; want volumes kept", st.Deleting, st.RemoveVolumes, err)
	}
}
