package reconcile_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
)

// TestApplyChecksItself runs two applies through a real controller, engine
// and database. The first does what its plan said: the approval succeeds
// with no differences and devarch_apply_mismatch_total stays 0. Before the
// second is checked, a test hook stops by hand the container the plan
// recreated: the approval still succeeds, but its message says "Applied
// with differences" and names the field, its result lists the mismatch,
// and the metric counts it.
func TestApplyChecksItself(t *testing.T) {
	t.Parallel() // own database, stacks and replica
	e := newEnv(t)
	s := e.createStack("check", smallInstance("web", false), smallInstance("api", false))
	var tamper atomic.Bool
	reg := prometheus.NewRegistry()
	e.startReplica("check", reconcile.Options{Resync: 10 * time.Minute, Registerer: reg,
		BeforeVerify: func(ctx context.Context, st spec.Stack) {
			if !tamper.Load() {
				return
			}
			name := spec.ContainerName(st.Name, "web")
			if _, err := e.docker.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: new(0)}); err != nil {
				t.Errorf("stop %s by hand: %v", name, err)
			}
		}}, nil)
	mismatches := func(kind plan.MismatchKind) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "devarch_apply_mismatch_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == string(kind) {
					return m.GetCounter().GetValue()
				}
			}
		}
		t.Fatalf("devarch_apply_mismatch_total{kind=%q} is not exported", kind)
		return 0
	}

	first := e.waitApproval(e.file(t.Context(), s, "").ID, 90*time.Second, "final", final)
	if first.Status != approval.Succeeded || strings.Contains(first.Message, "differences") {
		t.Fatalf("first apply: %s %q, want succeeded without differences", first.Status, first.Message)
	}
	if strings.Contains(string(first.Result), "mismatches") {
		t.Errorf("first apply's result lists mismatches: %s", first.Result)
	}
	for _, k := range plan.MismatchKinds() {
		if n := mismatches(k); n != 0 {
			t.Errorf("devarch_apply_mismatch_total{kind=%q} = %v after a faithful apply, want 0", k, n)
		}
	}

	// Edit web so that the second apply recreates it, and stop it by hand
	// before the check.
	o := s.Instances[0].Overrides
	o.Env = append(o.Env, spec.EnvVar{Key: "EDITED", Value: "1"})
	if err := e.store.SetInstanceOverrides(t.Context(), s.Name, "web", o); err != nil {
		t.Fatal(err)
	}
	tamper.Store(true)
	second := e.waitApproval(e.file(t.Context(), s, "").ID, 90*time.Second, "final", final)
	if second.Status != approval.Succeeded {
		t.Fatalf("second apply: %s %q, want succeeded (with differences)", second.Status, second.Message)
	}
	if !strings.Contains(second.Message, "Applied with differences: web: state is ") {
		t.Errorf("second apply's message %q does not name web's state", second.Message)
	}
	var res struct {
		Mismatches []plan.Mismatch `json:"mismatches"`
	}
	if err := json.Unmarshal(second.Result, &res); err != nil {
		t.Fatal(err)
	}
	want := plan.Mismatch{Kind: plan.MismatchNotApplied, Instance: "web", Field: "state"}
	if len(res.Mismatches) != 1 || res.Mismatches[0].Kind != want.Kind || res.Mismatches[0].Instance != want.Instance || res.Mismatches[0].Field != want.Field {
		t.Errorf("second apply's mismatches %+v, want one %s of web's state", res.Mismatches, want.Kind)
	}
	if n := mismatches(plan.MismatchNotApplied); n != 1 {
		t.Errorf("devarch_apply_mismatch_total{kind=not_applied} = %v, want 1", n)
	}
}
