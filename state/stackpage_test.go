package state_test

import (
	"testing"
	"time"

	"github.com/devarch/devarch-controller/state"
	"github.com/devarch/devarch-controller/state/statetest"
)

// StackPage agrees with Stacks: same stacks (live and deleting), same
// order (byte order of names, so "b-1" < "b0" < "ba"), instance counts,
// statuses; deleted instances are not counted. A deleting stack and a live
// one of the same name are both listed, once each.
func TestStackPage(t *testing.T) {
	s, ctx := seededStore(t)
	for _, name := range []string{"ba", "b0", "b-1", "a9", "zz"} {
		if _, err := s.ImportStack(ctx, shopStack(name)); err != nil {
			t.Fatalf("ImportStack(%s): %v", name, err)
		}
	}
	if err := statetest.Fill(ctx, s, "m", 30, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStack(ctx, "zz"); err != nil {
		t.Fatal(err)
	}
	oldZZ, err := s.Stack(ctx, "zz")
	if err != nil || !oldZZ.Deleting {
		t.Fatalf("deleted zz = %+v, %v; want it deleting", oldZZ, err)
	}
	if _, err := s.ImportStack(ctx, shopStack("zz")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstance(ctx, "ba", "web"); err != nil {
		t.Fatal(err)
	}
	ba, err := s.Stack(ctx, "ba")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteStackStatuses(ctx, []state.StackStatus{{StackID: ba.ID, Condition: "Drifted", Counts: map[string]int{"add": 2}, Token: "tok", Message: "Plan: 2 to add."}}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Stacks(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var paged []state.StackListItem
	var after state.StackPageKey
	for pages := 0; ; pages++ {
		items, more, err := s.StackPage(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 7 || (more && len(items) != 7) {
			t.Fatalf("page %d: %d items, more %v", pages, len(items), more)
		}
		paged = append(paged, items...)
		if !more {
			break
		}
		after = state.StackPageKey{Name: items[len(items)-1].Name, ID: items[len(items)-1].ID}
		if pages > 10 {
			t.Fatal("too many pages")
		}
	}
	if len(paged) != len(all) || len(all) != 36 {
		t.Fatalf("pages hold %d stacks, Stacks %d; want 36", len(paged), len(all))
	}
	// The two zz (deleting, live) are last, by id in a page; Stacks
	// leaves their order open.
	last2 := all[34:]
	if last2[0].ID > last2[1].ID {
		last2[0], last2[1] = last2[1], last2[0]
	}
	for i, it := range paged {
		st := all[i]
		if it.ID != st.ID || it.Name != st.Name || it.NetworkName != st.NetworkName || it.Enabled != st.Enabled || it.Deleting != st.Deleting || it.Instances != len(st.Instances) {
			t.Fatalf("item %d = %+v, Stacks has %s (%d instances)", i, it, st.Name, len(st.Instances))
		}
	}
	if paged[0].Name != "a9" || paged[1].Name != "b-1" || paged[2].Name != "b0" || paged[3].Name != "ba" {
		t.Errorf("first names %s %s %s %s, want a9 b-1 b0 ba (byte order)", paged[0].Name, paged[1].Name, paged[2].Name, paged[3].Name)
	}
	got := paged[3]
	if got.Instances != len(ba.Instances) || got.Status == nil || got.Status.Condition != "Drifted" || got.Status.Counts["add"] != 2 ||
		got.Status.Token != "tok" || got.Status.LastReconcile.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("ba = %+v (status %+v), want %d instances and its Drifted status", got, got.Status, len(ba.Instances))
	}
	if z := paged[34:]; z[0].ID != oldZZ.ID || !z[0].Deleting || z[0].Instances != 0 || z[1].Name != "zz" || z[1].Deleting || z[1].Instances == 0 {
		t.Errorf("the two zz = %+v, %+v; want the deleting one (no instances) then the live one", z[0], z[1])
	}
	if paged[0].Status != nil {
		t.Errorf("a9 was never planned but has status %+v", paged[0].Status)
	}
	// After the last name: empty, no more.
	if items, more, err := s.StackPage(ctx, state.StackPageKey{Name: "zzz", ID: 1 << 62}, 5); err != nil || len(items) != 0 || more {
		t.Errorf("page after the last name = %v, %v, %v; want empty", items, more, err)
	}
	for _, limit := range []int{0, -1, state.MaxStackPageSize + 1} {
		if _, _, err := s.StackPage(ctx, state.StackPageKey{}, limit); err == nil {
			t.Errorf("StackPage with limit %d succeeded", limit)
		}
	}
}
