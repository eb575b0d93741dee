package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// newTest returns the loop's metrics on a fresh registry.
func newTest(t *testing.T) (*metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return newMetrics(reg), reg
}

// compare checks the named families of reg against expected exposition text.
func compare(t *testing.T, reg *prometheus.Registry, expected string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), names...); err != nil {
		t.Fatal(err)
	}
}

func TestNewCreatesKnownSeriesAtZero(t *testing.T) {
	_, reg := newTest(t)
	compare(t, reg, `
# HELP devarch_reconcile_total Stack reconciliations (plan computed and status written), by result: success or error.
# TYPE devarch_reconcile_total counter
devarch_reconcile_total{result="error"} 0
devarch_reconcile_total{result="success"} 0
# HELP devarch_apply_total Approved plans that finished applying, by result (the approval's final status).
# TYPE devarch_apply_total counter
devarch_apply_total{result="cancelled"} 0
devarch_apply_total{result="conflict"} 0
devarch_apply_total{result="expired"} 0
devarch_apply_total{result="failed"} 0
devarch_apply_total{result="interrupted"} 0
devarch_apply_total{result="stale"} 0
devarch_apply_total{result="succeeded"} 0
# HELP devarch_apply_mismatch_total Differences between what a successful apply's plan predicted and what the engine reported right after it, by kind: not_applied, unplanned or not_converged.
# TYPE devarch_apply_mismatch_total counter
devarch_apply_mismatch_total{kind="not_applied"} 0
devarch_apply_mismatch_total{kind="not_converged"} 0
devarch_apply_mismatch_total{kind="unplanned"} 0
# HELP devarch_approvals Approvals currently stored, by status.
# TYPE devarch_approvals gauge
devarch_approvals{status="applying"} 0
devarch_approvals{status="cancelled"} 0
devarch_approvals{status="conflict"} 0
devarch_approvals{status="expired"} 0
devarch_approvals{status="failed"} 0
devarch_approvals{status="interrupted"} 0
devarch_approvals{status="pending"} 0
devarch_approvals{status="stale"} 0
devarch_approvals{status="succeeded"} 0
# HELP devarch_lock_conflicts_total Attempts to take a stack's advisory lock that found it held by another session.
# TYPE devarch_lock_conflicts_total counter
devarch_lock_conflicts_total 0
# HELP devarch_workqueue_depth Stacks waiting in the reconcile work queue.
# TYPE devarch_workqueue_depth gauge
devarch_workqueue_depth 0
# HELP devarch_database_up 1 when PostgreSQL answered the last request, else 0.
# TYPE devarch_database_up gauge
devarch_database_up 0
# HELP devarch_metrics_invalid_label_values_total Metric updates rejected because a label value was outside its fixed set (a caller bug), by label name.
# TYPE devarch_metrics_invalid_label_values_total counter
devarch_metrics_invalid_label_values_total{label="condition"} 0
devarch_metrics_invalid_label_values_total{label="kind"} 0
devarch_metrics_invalid_label_values_total{label="phase"} 0
devarch_metrics_invalid_label_values_total{label="result"} 0
devarch_metrics_invalid_label_values_total{label="stack"} 0
devarch_metrics_invalid_label_values_total{label="status"} 0
`, "devarch_reconcile_total", "devarch_apply_total", "devarch_apply_mismatch_total", "devarch_approvals", "devarch_lock_conflicts_total",
		"devarch_workqueue_depth", "devarch_runtime_up", "devarch_database_up", "devarch_metrics_invalid_label_values_total")

	// Histograms exist per phase with no observations; per-stack families
	// have no series until a stack is set.
	for _, tc := range []struct {
		name string
		want int
	}{
		{"devarch_apply_duration_seconds", len(applyPhases)},
		{"devarch_reconcile_duration_seconds", 1},
		{"devarch_stack_drifted", 0},
		{"devarch_stack_changes", 0},
		{"devarch_stack_condition", 0},
		{"devarch_stack_last_reconcile_timestamp_seconds", 0},
	} {
		if got, err := testutil.GatherAndCount(reg, tc.name); err != nil || got != tc.want {
			t.Errorf("%s: %d series (err %v), want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestNewPanicsOnSecondRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	newMetrics(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("second newMetrics on the same registry did not panic")
		}
	}()
	newMetrics(reg)
}

func TestNilRegistry(t *testing.T) {
	m := newMetrics(nil)
	m.observeReconcile(reconcileSuccess, time.Millisecond)
	if got := testutil.ToFloat64(m.reconcileTotal.WithLabelValues(reconcileSuccess)); got != 1 {
		t.Errorf("unregistered metrics: reconcile success = %v, want 1", got)
	}
	newMetrics(nil) // nothing registered: a second one does not panic
}

func TestObserveReconcile(t *testing.T) {
	tests := []struct {
		name             string
		results          []string
		took             time.Duration
		success, failure float64
		sum              float64
	}{
		{"one success", []string{"success"}, 20 * time.Millisecond, 1, 0, 0.02},
		{"one error", []string{"error"}, 2 * time.Second, 0, 1, 2},
		{"mixed", []string{"success", "error", "success"}, 500 * time.Millisecond, 2, 1, 1.5},
		{"anything but success is an error", []string{"", "Success"}, time.Second, 0, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, r := range tc.results {
				m.observeReconcile(r, tc.took)
			}
			if got := testutil.ToFloat64(m.reconcileTotal.WithLabelValues("success")); got != tc.success {
				t.Errorf("success = %v, want %v", got, tc.success)
			}
			if got := testutil.ToFloat64(m.reconcileTotal.WithLabelValues("error")); got != tc.failure {
				t.Errorf("error = %v, want %v", got, tc.failure)
			}
			h := histogram(t, reg, "devarch_reconcile_duration_seconds", nil)
			if h.GetSampleCount() != uint64(len(tc.results)) || !near(h.GetSampleSum(), tc.sum) {
				t.Errorf("duration count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), len(tc.results), tc.sum)
			}
		})
	}
}

func TestReconcileBuckets(t *testing.T) {
	if reconcileBuckets[0] != 0.001 || reconcileBuckets[len(reconcileBuckets)-1] != 30 {
		t.Errorf("reconcile buckets span %v..%v, want 0.001..30", reconcileBuckets[0], reconcileBuckets[len(reconcileBuckets)-1])
	}
	if applyBuckets[0] != 0.01 || applyBuckets[len(applyBuckets)-1] != 600 {
		t.Errorf("apply buckets span %v..%v, want 0.01..600", applyBuckets[0], applyBuckets[len(applyBuckets)-1])
	}
}

func TestQueueDepthFunc(t *testing.T) {
	m, reg := newTest(t)
	depth := 0
	read := func() float64 {
		t.Helper()
		mf := family(t, reg, "devarch_workqueue_depth")
		return mf.GetMetric()[0].GetGauge().GetValue()
	}
	if got := read(); got != 0 {
		t.Fatalf("depth without func = %v, want 0", got)
	}
	m.setQueueDepthFunc(func() int { return depth })
	depth = 7
	if got := read(); got != 7 {
		t.Errorf("depth = %v, want 7 (read at scrape time)", got)
	}
	depth = 3
	if got := read(); got != 3 {
		t.Errorf("depth = %v, want 3", got)
	}
	m.setQueueDepthFunc(nil)
	if got := read(); got != 0 {
		t.Errorf("depth after reset = %v, want 0", got)
	}
}

func TestHealthGauges(t *testing.T) {
	tests := []struct {
		name              string
		runtime, database []bool
		wantRT, wantDB    float64
	}{
		{"both up", []bool{true}, []bool{true}, 1, 1},
		{"runtime down", []bool{true, false}, []bool{true}, 0, 1},
		{"database recovers", []bool{true}, []bool{false, true}, 1, 1},
		{"database down", nil, []bool{false}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTest(t)
			for _, up := range tc.runtime {
				m.setRuntimeUp("default", up)
			}
			for _, up := range tc.database {
				m.setDatabaseUp(up)
			}
			if got := testutil.ToFloat64(m.runtimeUp.WithLabelValues("default")); got != tc.wantRT {
				t.Errorf("runtime_up = %v, want %v", got, tc.wantRT)
			}
			if got := testutil.ToFloat64(m.databaseUp); got != tc.wantDB {
				t.Errorf("database_up = %v, want %v", got, tc.wantDB)
			}
		})
	}
}

func TestLockConflict(t *testing.T) {
	m, _ := newTest(t)
	for range 3 {
		m.lockConflict()
	}
	if got := testutil.ToFloat64(m.lockConflicts); got != 3 {
		t.Errorf("lock conflicts = %v, want 3", got)
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
