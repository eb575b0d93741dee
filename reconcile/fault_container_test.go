package reconcile_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestFaultContainerRemovedMidApply removes one of a stack's containers
// with `docker rm -f` while compose up waits for it to become healthy. The
// apply ends (failed with the engine's error text, or succeeded), the next
// plan adds the missing container, and a new approval converges the stack.
func TestFaultContainerRemovedMidApply(t *testing.T) {
	t.Parallel() // own database, stacks and replica
	e := newEnv(t)
	s := e.createStack("rmmid", slowInstances()...)
	r := e.startReplica("rmmid", reconcile.Options{Resync: 2 * time.Second}, nil)
	a := e.file(t.Context(), s, "")
	e.waitApproval(a.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
	})
	e.waitRunning(s, "db", 30*time.Second) // "app" waits for db's healthcheck
	removed := time.Now()
	if _, err := e.docker.ContainerRemove(t.Context(), spec.ContainerName(s.Name, "db"), client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatalf("docker rm -f: %v", err)
	}

	got := e.waitApproval(a.ID, 60*time.Second, "final", final)
	t.Logf("apply ended %v after the removal: %s %q", time.Since(removed).Round(time.Millisecond), got.Status, got.Message)
	switch got.Status {
	case approval.Failed:
		if !strings.HasPrefix(got.Message, "Apply failed in the compose phase: ") || !strings.Contains(string(got.Result), `"compose_output"`) {
			t.Errorf("failed approval: message %q, result %s; want the compose phase named and compose's output kept", got.Message, got.Result)
		}
	case approval.Succeeded:
	default:
		t.Fatalf("approval after the removal: %s %q, want failed or succeeded", got.Status, got.Message)
	}
	if !isSentence(got.Message) {
		t.Errorf("approval message %q is not a full sentence", got.Message)
	}
	e.lockFree(s.ID)

	// The container is gone, and the plan says it must be added again.
	if _, err := e.docker.ContainerInspect(t.Context(), spec.ContainerName(s.Name, "db"), client.ContainerInspectOptions{}); err == nil {
		t.Logf("the apply recreated db itself")
	} else {
		cur, err := e.store.StackByID(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := r.rt.NewObserver().Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Compute(plan.Desired{Stack: cur, Paths: e.paths}, snap.For(cur), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !hasChange(p, "db", plan.ActionAdd) {
			t.Errorf("plan after the removal does not add db: %+v", p.Changes)
		}
		st := e.waitStatus(s.ID, 20*time.Second, "Drifted", func(st state.StackStatus) bool { return st.Condition == reconcile.Drifted })
		if st.Counts["add"] < 1 {
			t.Errorf("status after the removal counts %v, want db added", st.Counts)
		}
	}

	next := e.file(t.Context(), s, "")
	if got := e.waitApproval(next.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
		t.Fatalf("approval after the removal: %s %q", got.Status, got.Message)
	}
	e.waitStatus(s.ID, 20*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
	e.lockFree(s.ID)
}

func hasChange(p *plan.Plan, instance string, action plan.Action) bool {
	for _, c := range p.Changes {
		if c.Instance == instance && c.Action == action {
			return true
		}
	}
	return false
}

// isSentence reports whether s reads as full sentences: a capital first
// letter and a final period, on one line.
func isSentence(s string) bool {
	r := []rune(s)
	return len(r) > 1 && unicode.IsUpper(r[0]) && strings.HasSuffix(s, ".") && !strings.Contains(s, "\n")
}
