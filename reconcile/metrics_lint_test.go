package reconcile

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// loopFamilies is every metric family the loop exports; renaming one
// breaks dashboards and alerts, so the list is pinned here (serve pins the
// whole /metrics exposition, these and its own).
var loopFamilies = []string{
	"devarch_apply_duration_seconds",
	"devarch_apply_mismatch_total",
	"devarch_apply_total",
	"devarch_approvals",
	"devarch_database_up",
	"devarch_lock_conflicts_total",
	"devarch_metrics_invalid_label_values_total",
	"devarch_orphans",
	"devarch_reconcile_duration_seconds",
	"devarch_reconcile_total",
	"devarch_runtime_up",
	"devarch_stack_changes",
	"devarch_stack_condition",
	"devarch_stack_drifted",
	"devarch_stack_last_reconcile_timestamp_seconds",
	"devarch_workqueue_depth",
}

func TestFamilies(t *testing.T) {
	m, reg := newTest(t)
	populate(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName())
	}
	if !slices.Equal(got, loopFamilies) {
		t.Errorf("families = %v\nwant %v", got, loopFamilies)
	}
}

// TestLint runs the same checks as `promtool check metrics` (in-process).
func TestLint(t *testing.T) {
	m, reg := newTest(t)
	populate(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
