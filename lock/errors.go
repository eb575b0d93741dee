package lock

import (
	"errors"
	"fmt"
)

var (
	// ErrHeld matches a [HeldError]: another session holds the stack's lock.
	ErrHeld = errors.New("stack lock held by another session")

	// ErrLost reports that a lease no longer holds its lock: its session
	// ended (terminated, connection broken) or the lease was unlocked.
	ErrLost = errors.New("stack lock lost")

	// ErrReentrant reports that the pooled connection TryLock was handed
	// already held the stack's lock: some other code leaked a lock in
	// Namespace onto a pooled session. PostgreSQL advisory locks are
	// re-entrant per session, so granting it again would let two owners
	// share one lock. The connection is closed (which frees the leaked lock),
	// so a later attempt can succeed.
	ErrReentrant = errors.New("pooled connection already held the stack lock")
)

// HeldError is the outcome of TryLock when another session holds the lock.
// It is not a failure to retry with backoff: the stack is being applied
// elsewhere.
type HeldError struct {
	StackID int64
	// HolderPID is the backend pid holding the lock, or 0 when the holder
	// released it before it could be looked up.
	HolderPID int32
}

func (e *HeldError) Error() string {
	if e.HolderPID == 0 {
		return fmt.Sprintf("lock stack %d: %v", e.StackID, ErrHeld)
	}
	return fmt.Sprintf("lock stack %d: %v (backend pid %d)", e.StackID, ErrHeld, e.HolderPID)
}

// Is makes errors.Is(err, ErrHeld) true for a *HeldError.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }
