package reconcile_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
)

// TestKilledDuringComposeUp: a controller killed with SIGKILL in the
// middle of compose up leaves an approval applying and nothing else: its
// lock dies with its database session, the next controller calls the
// approval interrupted, and a new approval of the stack applies.
func TestKilledDuringComposeUp(t *testing.T) {
	t.Parallel() // own database, stacks and serve children
	e := newEnv(t)
	s := e.createStack("crash", slowInstances()...)
	serve := e.startChild(time.Hour)
	a := e.file(t.Context(), s, "")
	a = e.waitApproval(a.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
	})
	e.waitRunning(s, "db", 30*time.Second) // compose up now waits for db's healthcheck
	serve.signal(syscall.SIGKILL)
	if st := serve.wait(10 * time.Second); st.Success() {
		t.Fatalf("serve child exited %v after SIGKILL", st)
	}
	if got, err := e.store.Approval(t.Context(), a.ID); err != nil || got.Status != approval.Applying {
		t.Fatalf("after the kill the approval is %+v (err %v), want still applying", got, err)
	}

	start := time.Now()
	e.startReplica("after-crash", reconcile.Options{Resync: 2 * time.Second}, nil)
	got := e.waitApproval(a.ID, 20*time.Second, "final", final)
	t.Logf("approval interrupted %v after the new controller started", time.Since(start).Round(time.Millisecond))
	if got.Status != approval.Interrupted || !strings.Contains(got.Message, "was lost during the apply") {
		t.Fatalf("killed approval: %s %q, want interrupted saying the controller stopped", got.Status, got.Message)
	}
	e.lockFree(s.ID)
	if st := e.waitStatus(s.ID, 20*time.Second, "not Applying", func(st state.StackStatus) bool {
		return st.Condition != reconcile.Applying
	}); st.Condition != reconcile.Drifted {
		t.Errorf("half-applied stack is %s (%s), want Drifted", st.Condition, st.Message)
	}

	next := e.file(t.Context(), s, "")
	if got := e.waitApproval(next.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
		t.Fatalf("new approval after the crash: %s %q", got.Status, got.Message)
	}
	e.waitStatus(s.ID, 20*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
	e.lockFree(s.ID)
}
