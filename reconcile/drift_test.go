package reconcile_test

import (
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestDockerStopIsDriftAtOnce: stopping a managed container behind the
// controller's back flips the stack to Drifted through the engine's
// event, long before the (one hour) resync, and the plan says why.
func TestDockerStopIsDriftAtOnce(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("drift", smallInstance("web", true))
	r := e.startReplica("drift", reconcile.Options{Resync: time.Hour}, nil)
	a := e.file(t.Context(), s, "")
	if got := e.waitApproval(a.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
		t.Fatalf("apply: %s %q", got.Status, got.Message)
	}
	e.waitStatus(s.ID, 20*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })

	timeout := 5
	begin := time.Now()
	if _, err := e.docker.ContainerStop(t.Context(), spec.ContainerName(s.Name, "web"), client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	stopped := time.Now() // the container has exited: its "die" event is out
	for r.ctrl.Statuses()[s.ID].Condition != reconcile.Drifted {
		if time.Since(stopped) > 15*time.Second {
			t.Fatalf("15 s after docker stop the controller sees %+v, want Drifted", r.ctrl.Statuses()[s.ID])
		}
		time.Sleep(5 * time.Millisecond)
	}
	inMemory := time.Since(stopped)
	st := e.waitStatus(s.ID, 5*time.Second, "Drifted", func(st state.StackStatus) bool { return st.Condition == reconcile.Drifted })
	t.Logf("docker stop took %v; then Drifted after %v in the controller, %v in stack_status (resync is 1h)",
		stopped.Sub(begin).Round(time.Millisecond), inMemory.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	if st.Counts["modify"] != 1 {
		t.Errorf("status counts %v, want one modify", st.Counts)
	}

	rt, err := deploy.NewRuntime("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	snap, err := rt.NewObserver().Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cur, err := e.store.StackByID(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compute(plan.Desired{Stack: cur, Paths: e.paths}, snap.For(cur), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].Action != plan.ActionModify {
		t.Fatalf("plan after docker stop: %+v, want one modify", p.Changes)
	}
	var field *plan.FieldChange
	for i, f := range p.Changes[0].Fields {
		if f.Path == "state" {
			field = &p.Changes[0].Fields[i]
		}
	}
	if field == nil || field.Source != spec.SourceRuntime || field.New == nil || *field.New != spec.StateRunning {
		t.Fatalf("plan fields %+v, want state → running from the runtime", p.Changes[0].Fields)
	}
	if p.Token != st.Token {
		t.Errorf("status token %s differs from the plan's %s", st.Token, p.Token)
	}
}
