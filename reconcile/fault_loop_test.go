package reconcile

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestFailedApplyEndsTheClaimLoop: after a failed apply the stack's
// other approvals stay pending until the stack was planned again, so an
// engine outage fails the approval in flight, not every approval waiting.
func TestFailedApplyEndsTheClaimLoop(t *testing.T) {
	tests := []struct {
		name        string
		applyFn     func(spec.Stack) (deploy.Result, error)
		wantApplied int
		wantPending int
	}{
		{name: "successes go on", wantApplied: 3, wantPending: 0},
		{name: "a failure stops", wantApplied: 1, wantPending: 2, applyFn: func(spec.Stack) (deploy.Result, error) {
			return deploy.Result{}, &deploy.ApplyError{Phase: deploy.PhaseNetwork, Err: errors.New("list networks: cannot connect to the Docker daemon")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := unitStack(1, "shop")
			w := newFakeWorld(s)
			w.applyFn = tt.applyFn
			for id := int64(1); id <= 3; id++ {
				w.file(id, s.ID, unitToken(s))
			}
			c := newUnitController(t, w)
			if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
				t.Fatalf("reconcileStack: %v", err)
			}
			w.snapshotOf(func() {
				if len(w.applied) != tt.wantApplied || len(w.pending[s.ID]) != tt.wantPending {
					t.Errorf("%d applied, %d still pending; want %d and %d", len(w.applied), len(w.pending[s.ID]), tt.wantApplied, tt.wantPending)
				}
			})
			if tt.wantPending > 0 && c.QueueDepth() != 1 {
				t.Errorf("queue depth %d after a failed apply, want the stack queued again", c.QueueDepth())
			}
		})
	}
}

// TestWatchLease: an apply's context is cancelled, cause errLockLost, as
// soon as the lock's session ends; stopping a watch of a lock still held
// leaves the lock held and usable.
func TestWatchLease(t *testing.T) {
	url := testenv.DatabaseURL(t)
	store, err := state.Open(t.Context(), url, "watch-lease-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	locker := lock.New(store.Pool(), zaptest.NewLogger(t))

	t.Run("session ends", func(t *testing.T) {
		lease, err := locker.TryLock(t.Context(), 41)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = lease.Unlock(context.Background()) }()
		w := watchLease(t.Context(), lease)
		actx, stop := w.ctx, w.Stop
		terminated := time.Now()
		terminate(t, url, lease.BackendPID())
		select {
		case <-actx.Done():
		case <-time.After(10 * leaseCheckInterval):
			t.Fatalf("apply context not cancelled %v after the lock's session ended", 10*leaseCheckInterval)
		}
		t.Logf("lock loss noticed after %v", time.Since(terminated).Round(time.Millisecond))
		if !errors.Is(context.Cause(actx), errLockLost) {
			t.Errorf("cause %v, want errLockLost", context.Cause(actx))
		}
		if err := w.Confirm(t.Context()); !errors.Is(err, errLockLost) {
			t.Errorf("Confirm after the loss = %v, want errLockLost", err)
		}
		if !stop() {
			t.Error("stop reports the lock kept")
		}
	})
	t.Run("confirm at once", func(t *testing.T) {
		lease, err := locker.TryLock(t.Context(), 43)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = lease.Unlock(context.Background()) }()
		w := watchLease(t.Context(), lease)
		if err := w.Confirm(t.Context()); err != nil {
			t.Fatalf("Confirm of a held lock: %v", err)
		}
		// Terminated between two periodic checks: Confirm finds it at once.
		terminate(t, url, lease.BackendPID())
		if err := w.Confirm(t.Context()); !errors.Is(err, errLockLost) {
			t.Errorf("Confirm right after the session ended = %v, want errLockLost", err)
		}
		if !w.Stop() {
			t.Error("stop reports the lock kept")
		}
	})
	t.Run("lock kept", func(t *testing.T) {
		lease, err := locker.TryLock(t.Context(), 42)
		if err != nil {
			t.Fatal(err)
		}
		w := watchLease(t.Context(), lease)
		actx, stop := w.ctx, w.Stop
		time.Sleep(3 * leaseCheckInterval) // a few checks
		if stop() {
			t.Error("stop reports the lock lost")
		}
		if !errors.Is(actx.Err(), context.Canceled) || context.Cause(actx) == errLockLost {
			t.Errorf("after stop: err %v, cause %v", actx.Err(), context.Cause(actx))
		}
		if err := lease.Check(t.Context()); err != nil {
			t.Errorf("lock after the watch: %v", err)
		}
		if err := lease.Unlock(t.Context()); err != nil {
			t.Errorf("unlock: %v", err)
		}
	})
	t.Run("lease without a session", func(t *testing.T) {
		w := watchLease(t.Context(), &lock.Lease{})
		time.Sleep(2 * leaseCheckInterval)
		if err := w.Confirm(t.Context()); err != nil {
			t.Errorf("Confirm of a lease without a session = %v, want nil", err)
		}
		if w.ctx.Err() != nil || w.Stop() {
			t.Errorf("a lease without a session was checked: err %v", w.ctx.Err())
		}
	})
}

// terminate ends backend pid's session from another connection.
func terminate(t *testing.T, url string, pid int32) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate backend %d: %v (%v)", pid, ok, err)
	}
}
