package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/devarch/devarch-controller/lock"
)

// A stack's lock lives in one database session. That session can end
// under a live controller (PostgreSQL restarted, connection cut or gone
// silent); the lock ends with it, a sweep then calls the approval
// interrupted, and another replica may claim the stack's next approval and
// apply it. So while an apply runs, a watcher checks the lock on its own
// session every leaseCheckInterval, and before each phase that changes the
// engine the apply asks the watcher to check at once; a lost lock cancels
// the apply (cause errLockLost) before another replica can start:
// PostgreSQL takes longer than that to come back, and a replica needs a
// sweep and a claim afterwards.
const (
	leaseCheckInterval = 200 * time.Millisecond
	// leaseCheckTimeout bounds one check's statement. A check cut off by
	// it closes the lock's connection, so the lock is then lost as well:
	// a session that stopped answering (a silent network) is given up
	// within this time.
	leaseCheckTimeout = 5 * time.Second
)

// errLockLost is the cause of an apply's context cancelled by the lease
// watcher, and wraps a failed confirmation.
var errLockLost = errors.New("stack lock lost during the apply")

// leaseWatch checks one lease while an apply runs. All checks run on its
// goroutine, one at a time: the lease's connection serves one statement at
// a time, and a confirmation must not queue behind a periodic check.
type leaseWatch struct {
	ctx     context.Context // the apply's context, cancelled when the lock is lost
	confirm chan chan error
	done    chan struct{}
	stopped chan struct{}
	cancel  context.CancelCauseFunc
}

// watchLease returns the watcher of lease; its context is ctx, also
// cancelled (cause errLockLost) as soon as a check finds the lock lost. A
// lease without a session (backend pid 0, as tests' fakes hand out) is not
// checked.
func watchLease(ctx context.Context, lease *lock.Lease) *leaseWatch {
	actx, cancel := context.WithCancelCause(ctx)
	w := &leaseWatch{ctx: actx, confirm: make(chan chan error), done: make(chan struct{}), stopped: make(chan struct{}), cancel: cancel}
	if lease.BackendPID() <= 0 {
		close(w.stopped)
		return w
	}
	go w.run(ctx, lease)
	return w
}

func (w *leaseWatch) run(parent context.Context, lease *lock.Lease) {
	defer close(w.stopped)
	tick := time.NewTicker(leaseCheckInterval)
	defer tick.Stop()
	for {
		var reply chan error
		select {
		case <-w.done:
			return
		case <-w.ctx.Done():
			return
		case <-tick.C:
		case reply = <-w.confirm:
		}
		// The check outlives a cancelled apply context: cutting a check
		// off would close the lock's connection.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(parent), leaseCheckTimeout)
		err := lease.Check(cctx)
		cancel()
		lost := errors.Is(err, lock.ErrLost)
		if lost {
			w.cancel(errLockLost)
		}
		if reply != nil {
			switch {
			case lost:
				err = fmt.Errorf("%w: %w", errLockLost, err)
			case err != nil:
				// The session may still hold the lock, but the apply
				// cannot go on without knowing.
				err = fmt.Errorf("cannot confirm the stack's lock: %w", err)
			}
			reply <- err
		}
		if lost {
			return
		}
	}
}

// Confirm checks the lock now and returns nil only when it is still held:
// an error wrapping errLockLost when the lock is lost (its session ended,
// or a check got no answer within leaseCheckTimeout, which closes the
// connection), another error when the check failed otherwise. Either stops
// the apply.
func (w *leaseWatch) Confirm(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case w.confirm <- reply:
	case <-w.stopped:
		if cause := context.Cause(w.ctx); errors.Is(cause, errLockLost) {
			return cause
		}
		return nil // no session to check (tests' fakes)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Stop ends the watch, waiting for a check in flight, and reports whether
// the lock was lost.
func (w *leaseWatch) Stop() (lost bool) {
	close(w.done)
	<-w.stopped
	lost = errors.Is(context.Cause(w.ctx), errLockLost)
	w.cancel(nil)
	return lost
}
