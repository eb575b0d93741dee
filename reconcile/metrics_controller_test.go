package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/spec"
)

// TestControllerRegistersItsMetrics runs the loop over the fake world
// with a private registry: a full pass shows the stack, the health gauges
// and the pass; a pass after the stack is gone removes its series.
func TestControllerRegistersItsMetrics(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	reg := prometheus.NewRegistry()
	c := New(w.deps(), Options{ReplicaID: "unit/1", Logger: zaptest.NewLogger(t), Registerer: reg})
	c.Enqueue(s.ID)
	c.Resync(t.Context())

	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP devarch_stack_changes Entries in the stack's current plan, by action: add, modify or remove.
# TYPE devarch_stack_changes gauge
devarch_stack_changes{action="add",stack="shop"} 1
devarch_stack_changes{action="modify",stack="shop"} 0
devarch_stack_changes{action="remove",stack="shop"} 0
# HELP devarch_stack_condition 1 for the stack's current condition (InSync, Drifted, Applying or Error), 0 for the others.
# TYPE devarch_stack_condition gauge
devarch_stack_condition{condition="Applying",stack="shop"} 0
devarch_stack_condition{condition="Drifted",stack="shop"} 1
devarch_stack_condition{condition="Error",stack="shop"} 0
devarch_stack_condition{condition="InSync",stack="shop"} 0
# HELP devarch_stack_drifted 1 when the stack's plan has changes (desired and actual state differ), else 0; engine is the engine the stack runs on.
# TYPE devarch_stack_drifted gauge
devarch_stack_drifted{engine="default",stack="shop"} 1
# HELP devarch_reconcile_total Stack reconciliations (plan computed and status written), by result: success or error.
# TYPE devarch_reconcile_total counter
devarch_reconcile_total{result="error"} 0
devarch_reconcile_total{result="success"} 1
# HELP devarch_runtime_up 1 when the engine (Docker or Podman API) answered the last request, else 0, by engine.
# TYPE devarch_runtime_up gauge
devarch_runtime_up{engine="default"} 1
# HELP devarch_database_up 1 when PostgreSQL answered the last request, else 0.
# TYPE devarch_database_up gauge
devarch_database_up 1
# HELP devarch_workqueue_depth Stacks waiting in the reconcile work queue.
# TYPE devarch_workqueue_depth gauge
devarch_workqueue_depth 1
`), "devarch_stack_changes", "devarch_stack_condition", "devarch_stack_drifted", "devarch_reconcile_total",
		"devarch_runtime_up", "devarch_database_up", "devarch_workqueue_depth"); err != nil {
		t.Fatal(err)
	}
	if ts := testutil.ToFloat64(c.metrics.stacks.lastReconcile.WithLabelValues("shop")); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last reconcile timestamp = %v, want about now", ts)
	}

	w.mu.Lock()
	delete(w.stacks, s.ID)
	w.mu.Unlock()
	c.Resync(t.Context())
	if got := seriesWith(t, reg, "stack", "shop"); len(got) != 0 {
		t.Errorf("deleted stack keeps series: %v", got)
	}
}

// TestControllerCountsApplies checks the apply series the loop reports:
// a successful apply's result and phases, and a lock conflict.
func TestControllerCountsApplies(t *testing.T) {
	s := unitStack(1, "shop")
	tests := []struct {
		name         string
		lockErr      error
		applyFn      func(spec.Stack) (deploy.Result, error)
		result       string
		conflicts    float64
		phaseSamples uint64
	}{
		{name: "success", result: "succeeded", phaseSamples: 1, applyFn: func(s spec.Stack) (deploy.Result, error) {
			return deploy.Result{Created: []string{"x"}, Durations: map[string]time.Duration{
				deploy.PhaseBuild: time.Second, deploy.PhaseNetwork: time.Second, deploy.PhaseConfigs: time.Second,
				deploy.PhaseCompose: time.Second, deploy.PhaseTotal: 4 * time.Second}}, nil
		}},
		// A busy lock counts a lock conflict and no apply: the approval
		// stays pending.
		{name: "busy lock", result: "", conflicts: 1, lockErr: &lock.HeldError{StackID: 1, HolderPID: 4242}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(s)
			w.lockErr, w.applyFn = tt.lockErr, tt.applyFn
			w.file(7, s.ID, unitToken(s))
			reg := prometheus.NewRegistry()
			c := New(w.deps(), Options{ReplicaID: "unit/1", Logger: zaptest.NewLogger(t), Registerer: reg})
			c.applyCtx = t.Context()
			if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			for _, r := range applyResults {
				want := 0.0
				if r == tt.result {
					want = 1
				}
				if got := testutil.ToFloat64(c.metrics.applyTotal.WithLabelValues(r)); got != want {
					t.Errorf("apply_total{result=%q} = %v, want %v", r, got, want)
				}
			}
			if got := testutil.ToFloat64(c.metrics.lockConflicts); got != tt.conflicts {
				t.Errorf("lock conflicts = %v, want %v", got, tt.conflicts)
			}
			for _, p := range applyPhases {
				want := tt.phaseSamples
				if p == deploy.PhaseImages || p == deploy.PhaseRemove {
					want = 0 // the stack builds no image and is not deleted: no images or remove phase
				}
				h := histogram(t, reg, "devarch_apply_duration_seconds", map[string]string{"phase": p})
				if h.GetSampleCount() != want {
					t.Errorf("phase %s: %d samples, want %d", p, h.GetSampleCount(), want)
				}
			}
			if got := invalid(c.metrics, labelPhase); got != 0 {
				t.Errorf("invalid{label=phase} = %v, want 0 (the build phase is not exported)", got)
			}
		})
	}
}

// TestControllersWithoutRegisterer checks that controllers without a
// Registerer keep working metrics that nothing exports (two of them do
// not clash).
func TestControllersWithoutRegisterer(t *testing.T) {
	s := unitStack(1, "shop")
	for range 2 {
		c := New(newFakeWorld(s).deps(), Options{Logger: zaptest.NewLogger(t)})
		c.Resync(t.Context())
		if got := testutil.ToFloat64(c.metrics.reconcileTotal.WithLabelValues(reconcileSuccess)); got != 1 {
			t.Errorf("reconcile success = %v, want 1", got)
		}
	}
}
