package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// holdersSQL lists every session holding or waiting for a stack lock in this
// database. $1 namespace.
const holdersSQL = `SELECT l.objid::int8, COALESCE(l.pid, 0), COALESCE(a.application_name, ''),
       COALESCE(a.state, ''), a.state_change, l.granted
  FROM pg_locks l
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.classid::int8 = $1
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY l.objid::int8, l.granted DESC, l.pid`

// Holder is one session holding, or waiting for, a stack lock.
type Holder struct {
	StackID    int64 `json:"stack_id"`
	BackendPID int32 `json:"backend_pid"`
	// ApplicationName is the session's application_name ("" when not set or
	// not visible to the querying role).
	ApplicationName string `json:"application_name"`
	// State is pg_stat_activity.state: "idle" for a lease between
	// statements, "active" while a statement runs on its session.
	State string `json:"state"`
	// Since is pg_stat_activity.state_change: when the holding session last
	// started or finished a statement. For a lease taken by this package that
	// is the moment pg_try_advisory_lock returned, until Lease.Check runs on
	// it. PostgreSQL records no grant time for locks. Zero when not visible.
	Since time.Time `json:"since"`
	// Granted is false for a session waiting in a blocking
	// pg_advisory_lock (this package never waits; someone else does).
	Granted bool `json:"granted"`
}

// Holders lists the sessions holding or waiting for stack locks in the
// pool's database, ordered by stack id, holders before waiters. It runs one
// read-only query through the pool.
func (l *Locker) Holders(ctx context.Context) ([]Holder, error) {
	rows, err := l.pool.Query(ctx, holdersSQL, int64(Namespace))
	if err != nil {
		return nil, fmt.Errorf("list stack lock holders: %w", err)
	}
	holders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Holder, error) {
		var (
			h     Holder
			since *time.Time
		)
		err := row.Scan(&h.StackID, &h.BackendPID, &h.ApplicationName, &h.State, &since, &h.Granted)
		if since != nil {
			h.Since = *since
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("list stack lock holders: %w", err)
	}
	return holders, nil
}
