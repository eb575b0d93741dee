package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// ourLocks selects this package's rows in pg_locks: two-key advisory locks
// in Namespace ($1, as int8) in the current database. Advisory locks are
// per database, so controllers on other databases of the same cluster never
// see or block each other.
const ourLocks = `locktype = 'advisory' AND objsubid = 2 AND classid::int8 = $1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// tryLockSQL takes the lock unless this very session already holds it (then
// it yields NULL instead of re-entering). CASE evaluates the WHEN condition
// before the ELSE branch, so the check sees the session as it was before.
// $1 namespace int8, $2 stack id int8, $3 key1 int4, $4 key2 int4.
const tryLockSQL = `SELECT pg_backend_pid(),
  CASE WHEN EXISTS (SELECT 1 FROM pg_locks
                    WHERE ` + ourLocks + ` AND objid::int8 = $2 AND pid = pg_backend_pid())
       THEN NULL
       ELSE pg_try_advisory_lock($3::int4, $4::int4)
  END`

// holderSQL finds the session holding a stack's lock. $1 namespace, $2 id.
const holderSQL = `SELECT COALESCE(max(pid), 0) FROM pg_locks
  WHERE ` + ourLocks + ` AND objid::int8 = $2 AND granted AND pid <> pg_backend_pid()`

// closeTimeout bounds the goodbye to a connection being discarded; the lock
// is released when the socket closes whether or not the goodbye is sent.
const closeTimeout = 5 * time.Second

// Locker takes per-stack advisory locks on connections of one pool.
//
// Every held Lease pins one pool connection until it is unlocked, so size the
// pool for the number of concurrent applies plus the rest of the workload,
// and unlock every lease before closing the pool (pgxpool.Pool.Close waits
// for acquired connections). The pool must reach PostgreSQL directly or
// through a session-pooling proxy: transaction pooling (PgBouncer's default
// mode) breaks session-level locks.
type Locker struct {
	pool *pgxpool.Pool
	log  *zap.Logger
}

// New returns a Locker using pool. A nil logger logs nothing.
func New(pool *pgxpool.Pool, logger *zap.Logger) *Locker {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Locker{pool: pool, log: logger.With(zap.String("component", "lock"))}
}

// TryLock takes the stack's lock without waiting for it. It acquires one
// connection from the pool (waiting for a free connection is bounded by ctx),
// runs pg_try_advisory_lock on it, and on success keeps that connection in
// the returned Lease until Unlock.
//
// Outcomes: a Lease; a *HeldError (errors.Is(err, ErrHeld)) when another
// session holds the lock, with the connection returned to the pool; an error
// wrapping ErrStackIDOutOfRange before any connection is used; ErrReentrant;
// or another error (for example ctx cancelled). On any error other than
// *HeldError the connection is closed rather than returned, because an
// interrupted statement may have taken the lock server-side and only ending
// the session is sure to release it; no lock outlives a failed TryLock.
func (l *Locker) TryLock(ctx context.Context, stackID int64) (*Lease, error) {
	key1, key2, err := Key(stackID)
	if err != nil {
		return nil, fmt.Errorf("lock stack %d: %w", stackID, err)
	}
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock stack %d: acquire connection: %w", stackID, err)
	}
	var (
		pid      int32
		acquired *bool
	)
	err = conn.QueryRow(ctx, tryLockSQL, int64(Namespace), stackID, key1, key2).Scan(&pid, &acquired)
	switch {
	case err != nil:
		discard(conn, l.log, stackID, err)
		return nil, fmt.Errorf("lock stack %d: %w", stackID, err)
	case acquired == nil:
		l.log.Error("pooled connection already held a stack lock; closing it to release the leaked lock",
			zap.Int64("stack_id", stackID), zap.Int32("pid", pid))
		discard(conn, l.log, stackID, ErrReentrant)
		return nil, fmt.Errorf("lock stack %d: %w (backend pid %d)", stackID, ErrReentrant, pid)
	case !*acquired:
		holder := l.holder(ctx, conn, stackID)
		conn.Release()
		l.log.Debug("stack lock held by another session",
			zap.Int64("stack_id", stackID), zap.Int32("holder_pid", holder))
		return nil, &HeldError{StackID: stackID, HolderPID: holder}
	}
	l.log.Debug("stack lock acquired", zap.Int64("stack_id", stackID), zap.Int32("pid", pid))
	return &Lease{
		log:     l.log,
		conn:    conn,
		stackID: stackID,
		key1:    key1,
		key2:    key2,
		pid:     pid,
		since:   time.Now(),
	}, nil
}

// holder looks up the pid holding stackID's lock, best effort: 0 when the
// holder already let go or the lookup failed. Either way the outcome (held)
// stands.
func (l *Locker) holder(ctx context.Context, conn *pgxpool.Conn, stackID int64) int32 {
	var pid int32
	if err := conn.QueryRow(ctx, holderSQL, int64(Namespace), stackID).Scan(&pid); err != nil {
		l.log.Debug("look up stack lock holder", zap.Int64("stack_id", stackID), zap.NamedError("err", err))
		return 0
	}
	return pid
}

// discard closes conn and hands it back to the pool, which destroys closed
// connections instead of reusing them. Closing the session releases every
// lock it held.
func discard(conn *pgxpool.Conn, log *zap.Logger, stackID int64, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	pid := int32(conn.Conn().PgConn().PID())
	if err := conn.Conn().Close(ctx); err != nil {
		log.Debug("close connection", zap.Int64("stack_id", stackID), zap.NamedError("err", err))
	}
	conn.Release()
	log.Debug("closed connection so its session's locks are released",
		zap.Int64("stack_id", stackID), zap.Int32("pid", pid), zap.NamedError("cause", cause))
}
