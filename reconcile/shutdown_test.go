package reconcile_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/reconcile"
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
	e.waitApproval(a.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
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
	later := []approval.Approval{e.file(t.Context(), s, ""), e.file(t.Context(), other, "")}

	st := serve.wait(40 * time.Second)
	t.Logf("serve exited %v after SIGTERM: %v", time.Since(signalled).Round(time.Millisecond), st)
	if st.ExitCode() != 0 {
		t.Errorf("serve exit code %d after SIGTERM, want 0", st.ExitCode())
	}
	if !serve.logContains("stopped cleanly") {
		t.Error(`serve did not log "stopped cleanly"`)
	}
	got, err := e.store.Approval(t.Context(), a.ID)
	if err != nil || got.Status != approval.Succeeded {
		t.Fatalf("in-flight approval: %+v (err %v), want succeeded", got, err)
	}
	e.lockFree(s.ID)
	for _, l := range later {
		got, err := e.store.Approval(t.Context(), l.ID)
		if err != nil || got.Status != approval.Pending || got.ClaimedBy != "" {
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

// TestSigtermHandsOverPendingWork: two controllers share a stack. The one
// applying receives SIGTERM with the stack's next approval pending: it
// finishes its apply, the other controller claims the pending approval
// within 1 s of that outcome, nothing ends in conflict, and the stopped
// controller logs no warning or error — idle or mid-apply.
func TestSigtermHandsOverPendingWork(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("handover", slowInstances()...)
	idle := e.startChild(time.Hour)
	applying := e.startChild(time.Hour)
	// SIGTERM while idle.
	time.Sleep(time.Second) // both are past their start-up pass
	idle.signal(syscall.SIGTERM)
	if st := idle.wait(30 * time.Second); st.ExitCode() != 0 {
		t.Errorf("idle serve exited %d after SIGTERM, want 0", st.ExitCode())
	}
	idle.noWarnings("idle, SIGTERM")

	a1 := e.file(t.Context(), s, "")
	e.waitApproval(a1.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
	})
	e.waitRunning(s, "db", 30*time.Second) // compose up now waits for db's healthcheck
	e.startReplica("successor", reconcile.Options{Workers: 1, Resync: time.Hour}, nil)
	a2 := e.file(t.Context(), s, "")
	applying.signal(syscall.SIGTERM)
	if st := applying.wait(40 * time.Second); st.ExitCode() != 0 {
		t.Errorf("serve exited %d after SIGTERM mid-apply, want 0", st.ExitCode())
	}
	applying.noWarnings("mid-apply, SIGTERM")

	first := e.waitApproval(a1.ID, 30*time.Second, "final", final)
	second := e.waitApproval(a2.ID, 60*time.Second, "final", final)
	if first.Status != approval.Succeeded || second.Status != approval.Succeeded {
		t.Fatalf("approvals: %s %q and %s %q, want both succeeded", first.Status, first.Message, second.Status, second.Message)
	}
	if second.ClaimedBy != "successor" {
		t.Errorf("pending approval claimed by %q, want the successor", second.ClaimedBy)
	}
	handover := second.StartedAt.Sub(*first.FinishedAt)
	t.Logf("successor claimed the pending approval %v after the stopping controller recorded its outcome", handover.Round(time.Millisecond))
	if handover > time.Second {
		t.Errorf("hand-over took %v, want ≤ 1 s", handover)
	}
	e.lockFree(s.ID)
}

// noWarnings fails the test when the child logged at warn level or above.
func (c *child) noWarnings(when string) {
	c.t.Helper()
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, level := range []string{`"level":"warn"`, `"level":"error"`, `"level":"dpanic"`, `"level":"fatal"`} {
			if strings.Contains(line, level) {
				c.t.Errorf("%s: serve logged %s", when, line)
			}
		}
	}
}
