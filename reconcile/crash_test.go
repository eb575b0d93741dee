package reconcile_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
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

	took := e.recoverAfterKill("after-crash", s, a)
	t.Logf("approval interrupted %v after the new controller started", took.Round(time.Millisecond))
}
