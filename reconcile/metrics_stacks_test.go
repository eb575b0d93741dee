package reconcile

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var stackFamilies = []string{
	"devarch_stack_drifted", "devarch_stack_changes",
	"devarch_stack_last_reconcile_timestamp_seconds", "devarch_stack_condition",
}

func TestSetStackExposition(t *testing.T) {
	m, reg := newTest(t)
	m.setStack("shop", "default", stackState{
		Drifted: true, Add: 1, Modify: 2, Remove: 3, Condition: "Drifted",
		LastReconcile: time.Unix(1767225600, 500_000_000),
	})
	m.setStack("blog", "default", stackState{Condition: "InSync"}) // never reconciled: timestamp 0
	compare(t, reg, `
# HELP devarch_stack_drifted 1 when the stack's plan has changes (desired and actual state differ), else 0; engine is the engine the stack runs on.
# TYPE devarch_stack_drifted gauge
devarch_stack_drifted{engine="default",stack="blog"} 0
devarch_stack_drifted{engine="default",stack="shop"} 1
# HELP devarch_stack_changes Entries in the stack's current plan, by action: add, modify or remove.
# TYPE devarch_stack_changes gauge
devarch_stack_changes{action="add",stack="blog"} 0
devarch_stack_changes{action="add",stack="shop"} 1
devarch_stack_changes{action="modify",stack="blog"} 0
devarch_stack_changes{action="modify",stack="shop"} 2
devarch_stack_changes{action="remove",stack="blog"} 0
devarch_stack_changes{action="remove",stack="shop"} 3
# HELP devarch_stack_last_reconcile_timestamp_seconds Unix time of the stack's last reconciliation; 0 if it was never reconciled.
# TYPE devarch_stack_last_reconcile_timestamp_seconds gauge
devarch_stack_last_reconcile_timestamp_seconds{stack="blog"} 0
devarch_stack_last_reconcile_timestamp_seconds{stack="shop"} 1.7672256005e+09
# HELP devarch_stack_condition 1 for the stack's current condition (InSync, Drifted, Applying or Error), 0 for the others.
# TYPE devarch_stack_condition gauge
devarch_stack_condition{condition="Applying",stack="blog"} 0
devarch_stack_condition{condition="Applying",stack="shop"} 0
devarch_stack_condition{condition="Drifted",stack="blog"} 0
devarch_stack_condition{condition="Drifted",stack="shop"} 1
devarch_stack_condition{condition="Error",stack="blog"} 0
devarch_stack_condition{condition="Error",stack="shop"} 0
devarch_stack_condition{condition="InSync",stack="blog"} 1
devarch_stack_condition{condition="InSync",stack="shop"} 0
`, stackFamilies...)
}

// TestSetStackCondition checks the condition one-hot encoding, including
// transitions (the previous condition must go back to 0).
func TestSetStackCondition(t *testing.T) {
	tests := []struct {
		name        string
		conditions  []string
		want        string // the condition at 1, "" for none
		wantInvalid float64
	}{
		{"in sync", []string{"InSync"}, "InSync", 0},
		{"drifted", []string{"Drifted"}, "Drifted", 0},
		{"drifted then applying", []string{"Drifted", "Applying"}, "Applying", 0},
		{"applying then in sync", []string{"Applying", "InSync"}, "InSync", 0},
		{"error", []string{"InSync", "Error"}, "Error", 0},
		{"unknown condition clears all", []string{"Drifted", "Exploded"}, "", 1},
		{"empty condition is unknown", []string{""}, "", 1},
		{"lower case is unknown", []string{"insync"}, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, c := range tc.conditions {
				m.setStack("shop", "default", stackState{Condition: c})
			}
			for _, c := range stackConditions {
				want := 0.0
				if c == tc.want {
					want = 1
				}
				if got := testutil.ToFloat64(m.stacks.condition.WithLabelValues("shop", c)); got != want {
					t.Errorf("condition %s = %v, want %v", c, got, want)
				}
			}
			wantFixedSeries(t, reg, m, "devarch_stack_condition", len(stackConditions), labelCondition, tc.wantInvalid)
		})
	}
}

func TestSetStackEmptyNameRejected(t *testing.T) {
	m, reg := newTest(t)
	m.setStack("", "default", stackState{Drifted: true, Condition: "Drifted"})
	for _, f := range stackFamilies {
		if n, _ := testutil.GatherAndCount(reg, f); n != 0 {
			t.Errorf("%s has %d series after an empty stack name, want 0", f, n)
		}
	}
	if got := invalid(m, labelStack); got != 1 {
		t.Errorf("invalid{label=stack} = %v, want 1", got)
	}
}

// seriesPerStack is how many series one stack owns: drifted, 3 changes,
// timestamp, 4 conditions.
const seriesPerStack = 1 + 3 + 1 + 4

func TestDeleteStack(t *testing.T) {
	tests := []struct {
		name   string
		set    []string
		delete []string
		want   []string // stacks that keep series
	}{
		{"delete one of two", []string{"shop", "blog"}, []string{"shop"}, []string{"blog"}},
		{"delete all", []string{"shop", "blog"}, []string{"blog", "shop"}, nil},
		{"unknown is a no-op", []string{"shop"}, []string{"nope", ""}, []string{"shop"}},
		{"delete twice", []string{"shop"}, []string{"shop", "shop"}, nil},
		{"prefix is not a match", []string{"shop", "shop2"}, []string{"shop"}, []string{"shop2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, s := range tc.set {
				m.setStack(s, "default", stackState{Drifted: true, Add: 1, Condition: "Drifted", LastReconcile: time.Now()})
			}
			for _, s := range tc.delete {
				m.deleteStack(s)
			}
			assertStacks(t, m, reg, tc.set, tc.want)
			assertOnlyStackSeries(t, reg, len(tc.want))
		})
	}
}

func TestRetainStacks(t *testing.T) {
	tests := []struct {
		name   string
		set    []string
		retain []string
		want   []string
	}{
		{"keep all", []string{"a", "b"}, []string{"a", "b"}, []string{"a", "b"}},
		{"drop one", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"a", "c"}},
		{"empty list drops all", []string{"a", "b"}, nil, nil},
		{"names without series are ignored", []string{"a"}, []string{"a", "z"}, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, s := range tc.set {
				m.setStack(s, "default", stackState{Condition: "InSync", LastReconcile: time.Now()})
			}
			m.retainStacks(tc.retain)
			assertStacks(t, m, reg, tc.set, tc.want)
			assertOnlyStackSeries(t, reg, len(tc.want))
		})
	}
}

// TestStackComesBack checks that a deleted stack set again gets complete
// series (deletion leaves no state behind).
func TestStackComesBack(t *testing.T) {
	m, reg := newTest(t)
	m.setStack("shop", "default", stackState{Drifted: true, Remove: 2, Condition: "Drifted"})
	m.deleteStack("shop")
	m.setStack("shop", "default", stackState{Condition: "InSync"})
	if got := seriesWith(t, reg, "stack", "shop"); len(got) != seriesPerStack {
		t.Fatalf("shop has %d series, want %d: %v", len(got), seriesPerStack, got)
	}
	if got := testutil.ToFloat64(m.stacks.changes.WithLabelValues("shop", "remove")); got != 0 {
		t.Errorf("remove changes = %v, want 0", got)
	}
}

// assertStacks checks which of the stacks in all own series, and that a
// stack that keeps series keeps every one of them.
func assertStacks(t *testing.T, m *metrics, reg prometheus.Gatherer, all, want []string) {
	t.Helper()
	for _, s := range all {
		got := seriesWith(t, reg, "stack", s)
		switch {
		case slices.Contains(want, s) && len(got) != seriesPerStack:
			t.Errorf("stack %s has %d series, want %d: %v", s, len(got), seriesPerStack, got)
		case !slices.Contains(want, s) && len(got) != 0:
			t.Errorf("deleted stack %s still has series: %v", s, got)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.known) != len(want) {
		t.Errorf("known stacks = %v, want %v", m.known, want)
	}
}

// assertOnlyStackSeries checks the per-stack families hold exactly the
// series of n stacks, so no series escapes deletion under another label.
func assertOnlyStackSeries(t *testing.T, reg prometheus.Gatherer, n int) {
	t.Helper()
	perStack := map[string]int{
		"devarch_stack_drifted": 1, "devarch_stack_changes": len(planActions),
		"devarch_stack_last_reconcile_timestamp_seconds": 1, "devarch_stack_condition": len(stackConditions),
	}
	for _, f := range stackFamilies {
		if got, err := testutil.GatherAndCount(reg, f); err != nil || got != n*perStack[f] {
			t.Errorf("%s: %d series (err %v), want %d", f, got, err, n*perStack[f])
		}
	}
}

func TestConcurrentStacks(t *testing.T) {
	m, reg := newTest(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("s%d", (w+i)%10)
				switch i % 4 {
				case 0, 1:
					m.setStack(name, "default", stackState{Drifted: i%2 == 0, Add: i, Condition: "Drifted"})
				case 2:
					m.deleteStack(name)
				default:
					m.retainStacks([]string{"s0", "s1", "s2"})
				}
			}
		}()
	}
	wg.Wait()
	// Every surviving stack must be complete: SetStack and deletion never
	// interleave inside one stack.
	m.mu.Lock()
	known := make([]string, 0, len(m.known))
	for s := range m.known {
		known = append(known, s)
	}
	m.mu.Unlock()
	for i := range 10 {
		s := fmt.Sprintf("s%d", i)
		got := seriesWith(t, reg, "stack", s)
		want := 0
		if slices.Contains(known, s) {
			want = seriesPerStack
		}
		if len(got) != want {
			t.Errorf("stack %s: %d series, want %d", s, len(got), want)
		}
	}
}
