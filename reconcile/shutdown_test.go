package reconcile_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
)

// TestSigtermFinishesInFlightApply: serve receiving SIGTERM while it
// applies lets the apply finish, records its outcome and the stack's
// status, releases the lock, claims nothing more and exits 0.
func TestSigtermFinishesInFlightApply(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("term", slowInstances()...)
	other := e.createStack("other", smallInstance("web", false))
	serve := e.startChild(time.Hour)
	a := e.file(t.Context(), s, "")
	e.waitApproval(a.ID, 60*time.Second, "applying under the lock", func(a state.Approval) bool {
		return a.Status == state.ApprovalApplying && a.LockPID != 0
	})
	e.waitRunning(s, "db", 30*time.Second)
	serve.signal(syscall.SIGTERM)
	signalled := time.Now()
	for !serve.logContains("controller stopping") {
		if time.Since(signalled) > 10*time.Second {
			t.Fatal("serve did not start stopping within 10 s of SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	later := []state.Approval{e.file(t.Context(), s, ""), e.file(t.Context(), other, "")}

	st := serve.wait(40 * time.Second)
	t.Logf("serve exited %v after SIGTERM: %v", time.Since(signalled).Round(time.Millisecond), st)
	if st.ExitCode() != 0 {
		t.Errorf("serve exit code %d after SIGTERM, want 0", st.ExitCode())
	}
	if !serve.logContains("stopped cleanly") {
		t.Error(`serve did not log "stopped cleanly"`)
	}
	got, err := e.store.Approval(t.Context(), a.ID)
	if err != nil || got.Status != state.ApprovalSucceeded {
		t.Fatalf("in-flight approval: %+v (err %v), want succeeded", got, err)
	}
	e.lockFree(s.ID)
	for _, l := range later {
		got, err := e.store.Approval(t.Context(), l.ID)
		if err != nil || got.Status != state.ApprovalPending || got.ClaimedBy != "" {
			t.Errorf("approval %d filed after SIGTERM: %+v (err %v), want pending and unclaimed", l.ID, got, err)
		}
	}
	statuses, err := e.store.StackStatuses(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses[s.ID]; st.Condition != reconcile.InSync {
		t.Errorf("status of the applied stack after shutdown: %s (%s), want InSync", st.Condition, st.Message)
	}
}
