package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/devarch/devarch-controller/lock"
)

// A stack's lock lives in one database session. That session can end
// under a live controller (PostgreSQL restarted, connection cut); the lock
// ends with it, a sweep then calls the approval interrupted, and another
// replica may claim the stack's next approval and apply it. So an apply
// checks its lock every leaseCheckInterval and stops when the lock is
// lost, before another replica can start: PostgreSQL takes longer than
// that to come back, and a replica needs a sweep and a claim afterwards.
const (
	leaseCheckInterval = 200 * time.Millisecond
	// leaseCheckTimeout bounds one check. A check cut off by it closes the
	// lock's connection, so the lock is then lost as well.
	leaseCheckTimeout = 5 * time.Second
)

// errLockLost is the cause of an apply's context cancelled by watchLease.
var errLockLost = errors.New("stack lock lost during the apply")

// watchLease returns the context an apply runs in: ctx, also cancelled
// (cause errLockLost) as soon as a check finds the lease's lock lost. stop
// ends the watch, waiting for a check in flight (cutting one off would
// close the lock's connection), and reports whether the lock was lost. A
// lease without a session (backend pid 0) is not watched.
func watchLease(ctx context.Context, lease *lock.Lease) (context.Context, func() (lost bool)) {
	actx, cancel := context.WithCancelCause(ctx)
	if lease.BackendPID() <= 0 {
		return actx, func() bool { cancel(nil); return false }
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(leaseCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-actx.Done():
				return
			case <-tick.C:
			}
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), leaseCheckTimeout)
			err := lease.Check(cctx)
			ccancel()
			if errors.Is(err, lock.ErrLost) {
				cancel(errLockLost)
				return
			}
		}
	}()
	return actx, func() bool {
		close(done)
		<-stopped
		lost := errors.Is(context.Cause(actx), errLockLost)
		cancel(nil)
		return lost
	}
}
