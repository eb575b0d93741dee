package reconcile

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// FuzzStackNames feeds arbitrary stack names (and label values) through
// the per-stack lifecycle: no input may panic, a valid name gets exactly
// its series, and deleting it leaves none behind.
func FuzzStackNames(f *testing.F) {
	for _, seed := range []string{"shop", "", "a-b-c", "shop\xff", "ünïcode", `q"uote\`, "stack=x,y", "\x00"} {
		f.Add(seed, "Drifted", "succeeded", "pending")
	}
	f.Fuzz(func(t *testing.T, name, condition, result, status string) {
		reg := prometheus.NewRegistry()
		m := newMetrics(reg)
		m.setStack(name, "default", stackState{Drifted: true, Add: 1, Condition: condition, LastReconcile: time.Now()})
		m.applyFinished(result)
		m.observeApplyPhase(result, time.Second)
		m.setApprovals(map[string]int{status: 1})

		want := 0
		if name != "" && utf8.ValidString(name) {
			want = seriesPerStack
		}
		if got := seriesWith(t, reg, "stack", name); len(got) != want {
			t.Fatalf("stack %q: %d series, want %d", name, len(got), want)
		}
		if n, _ := testutil.GatherAndCount(reg, "devarch_apply_total"); n != len(applyResults) {
			t.Fatalf("apply_total has %d series after result %q", n, result)
		}
		m.retainStacks([]string{name + "x"})
		if got := seriesWith(t, reg, "stack", name); len(got) != 0 {
			t.Fatalf("stack %q kept series after RetainStacks: %v", name, got)
		}
	})
}
