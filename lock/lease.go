package lock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// checkSQL says whether this session still holds a stack's lock.
// $1 namespace, $2 stack id.
const checkSQL = `SELECT EXISTS (SELECT 1 FROM pg_locks
  WHERE ` + ourLocks + ` AND objid::int8 = $2 AND granted AND pid = pg_backend_pid())`

// unlockSQL releases a stack's lock on the session that holds it.
const unlockSQL = `SELECT pg_advisory_unlock($1::int4, $2::int4)`

// Lease is one held stack lock and the pool connection whose session holds
// it. It is safe for concurrent use; statements on its connection are
// serialised.
type Lease struct {
	log        *zap.Logger
	stackID    int64
	key1, key2 int32
	pid        int32
	since      time.Time

	mu   sync.Mutex
	conn *pgxpool.Conn // nil once unlocked
}

// StackID is the locked stack.
func (l *Lease) StackID() int64 { return l.stackID }

// Since is when this process was granted the lock (local clock).
func (l *Lease) Since() time.Time { return l.since }

// BackendPID is the PostgreSQL backend pid of the session holding the lock,
// as shown in pg_locks.pid and pg_stat_activity.pid.
func (l *Lease) BackendPID() int32 { return l.pid }

// Check verifies on the lease's own session that the lock is still granted
// to it. It returns nil when it is, an error wrapping ErrLost when the
// session ended (terminated, connection broken) or the lease was unlocked,
// and ctx's error, without touching the connection, when ctx is already
// done.
//
// Call it before steps that must only run under the lock (e.g. compose up).
// There is no background watcher: PostgreSQL does not tell a client its
// session died until the client next talks to it, so a watcher would poll
// anyway. Note that cancelling ctx while Check's statement runs makes pgx
// close the connection, which ends the session and so does lose the lock.
func (l *Lease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return fmt.Errorf("check lock on stack %d: %w: the lease was already unlocked", l.stackID, ErrLost)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check lock on stack %d: %w", l.stackID, err)
	}
	var held bool
	err := l.conn.QueryRow(ctx, checkSQL, int64(Namespace), l.stackID).Scan(&held)
	switch {
	case err != nil && l.conn.Conn().IsClosed():
		return fmt.Errorf("check lock on stack %d: %w: %w", l.stackID, ErrLost, err)
	case err != nil:
		return fmt.Errorf("check lock on stack %d: %w", l.stackID, err)
	case !held:
		return fmt.Errorf("check lock on stack %d: %w: the session no longer holds it", l.stackID, ErrLost)
	}
	return nil
}

// Unlock releases the lock with pg_advisory_unlock on the lease's own
// connection and returns the connection to the pool. It is idempotent: later
// calls return nil.
//
// If the unlock statement fails (connection broken, ctx done, lock already
// lost), the connection is closed instead of returned: a session's locks end
// with it, so the lock is released either way, and a session in an unknown
// state never goes back to the pool. The error only reports that the clean
// path failed. Whatever Unlock returns, the lease holds nothing afterwards.
func (l *Lease) Unlock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	conn := l.conn
	if conn == nil {
		return nil
	}
	l.conn = nil

	var released bool
	err := ctx.Err()
	if err == nil {
		err = conn.QueryRow(ctx, unlockSQL, l.key1, l.key2).Scan(&released)
	}
	if err == nil && released {
		conn.Release()
		l.log.Debug("stack lock released", zap.Int64("stack_id", l.stackID), zap.Int32("pid", l.pid),
			zap.Duration("held", time.Since(l.since)))
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%w: the session no longer held it", ErrLost)
	}
	l.log.Warn("unlock stack lock failed; closing its connection, which releases the lock",
		zap.Int64("stack_id", l.stackID), zap.Int32("pid", l.pid), zap.NamedError("err", err))
	discard(conn, l.log, l.stackID, err)
	return fmt.Errorf("unlock stack %d: %w", l.stackID, err)
}

// Release ends the lease in one transaction on the lock's own session: it
// runs fn in the transaction, releases the lock, then commits, and returns
// the connection to the pool.
//
// The lock is released before the commit, so for an instant the lock is
// free while fn's writes are not yet visible, never the other way round. A
// caller that records "this work is finished" in fn (an approval's outcome)
// can rely on this: whoever finds the lock free and the work still
// unfinished must wait for that commit (a row it updates is locked until
// then), and whoever sees the work finished finds the lock free, so a
// successor never meets the lock of a finished predecessor.
//
// When fn, the unlock or the commit fails, the transaction is abandoned
// and the connection closed (which releases the lock if it was still
// held), and the error is returned: fn's writes did not happen, and the
// caller may redo them elsewhere. A lease without a session (unlocked
// already, or the zero Lease) returns an error wrapping ErrLost without
// calling fn. Release is idempotent in the same way as Unlock: the lease
// holds nothing afterwards.
func (l *Lease) Release(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	conn := l.conn
	if conn == nil {
		return fmt.Errorf("release lock on stack %d: %w: the lease holds no session", l.stackID, ErrLost)
	}
	l.conn = nil
	err := func() error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := fn(ctx, tx); err != nil {
			return err
		}
		var released bool
		if err := tx.QueryRow(ctx, unlockSQL, l.key1, l.key2).Scan(&released); err != nil {
			return fmt.Errorf("unlock: %w", err)
		}
		if !released {
			// Impossible while the session lives: a lock lost with its
			// session fails the statements above first.
			l.log.Warn("stack lock was no longer held when released", zap.Int64("stack_id", l.stackID), zap.Int32("pid", l.pid))
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}()
	if err != nil {
		l.log.Debug("release stack lock in a transaction failed; closing its connection, which releases the lock",
			zap.Int64("stack_id", l.stackID), zap.Int32("pid", l.pid), zap.NamedError("err", err))
		discard(conn, l.log, l.stackID, err)
		return fmt.Errorf("release lock on stack %d: %w", l.stackID, err)
	}
	conn.Release()
	l.log.Debug("stack lock released", zap.Int64("stack_id", l.stackID), zap.Int32("pid", l.pid),
		zap.Duration("held", time.Since(l.since)))
	return nil
}
