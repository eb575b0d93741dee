package lock

import (
	"context"
	"fmt"
	"sync"
	"time"

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
