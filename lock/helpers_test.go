package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap/zaptest"
)

// poolOptions configures a test pool.
type poolOptions struct {
	maxConns int32
	appName  string
	tracer   pgx.QueryTracer
}

// newPool opens a pool on dbURL, closed when the test ends. Leases taken
// after this call are unlocked first (cleanups run last-in first-out), so
// Close never waits on a held connection.
func newPool(t *testing.T, dbURL string, opts poolOptions) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse pool config: %v", err)
	}
	cfg.MaxConns = opts.maxConns
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	if opts.appName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.appName
	}
	cfg.ConnConfig.Tracer = opts.tracer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() { pool.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Errorf("pool.Close blocked: a connection (a lease?) was never released")
		}
	})
	return pool
}

// setup returns a fresh database URL and a Locker on a new pool there.
func setup(t *testing.T, opts poolOptions) (string, *pgxpool.Pool, *lock.Locker) {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	pool := newPool(t, dbURL, opts)
	return dbURL, pool, lock.New(pool, zaptest.NewLogger(t))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustLock takes stackID's lock or fails the test; the lease is unlocked
// when the test ends.
func mustLock(t *testing.T, l *lock.Locker, stackID int64) *lock.Lease {
	t.Helper()
	lease, err := l.TryLock(testContext(t), stackID)
	if err != nil {
		t.Fatalf("TryLock(%d): %v", stackID, err)
	}
	t.Cleanup(func() { _ = lease.Unlock(context.Background()) })
	return lease
}

// tryLock calls TryLock where the test expects an error; a lease returned
// by mistake is unlocked when the test ends so the pool can close.
func tryLock(ctx context.Context, t *testing.T, l *lock.Locker, stackID int64) error {
	t.Helper()
	lease, err := l.TryLock(ctx, stackID)
	if lease != nil {
		t.Cleanup(func() { _ = lease.Unlock(context.Background()) })
	}
	return err
}

// wantHeld asserts err is a *HeldError for stackID held by holderPID.
func wantHeld(t *testing.T, err error, stackID int64, holderPID int32) {
	t.Helper()
	var held *lock.HeldError
	if !errors.As(err, &held) || !errors.Is(err, lock.ErrHeld) {
		t.Fatalf("TryLock(%d) error = %v, want *HeldError", stackID, err)
	}
	if held.StackID != stackID || held.HolderPID != holderPID {
		t.Fatalf("HeldError = %+v, want stack %d holder pid %d", *held, stackID, holderPID)
	}
}

// heldBound is how fast a held outcome must come back: TryLock never waits
// for the lock, so anything near a second would mean it blocked.
const heldBound = 500 * time.Millisecond

// wantHeldAtOnce calls TryLock on a lock held by holderPID and asserts it
// returns a *HeldError at once, without waiting for the lock.
func wantHeldAtOnce(ctx context.Context, t *testing.T, l *lock.Locker, stackID int64, holderPID int32) {
	t.Helper()
	start := time.Now()
	err := tryLock(ctx, t, l, stackID)
	if elapsed := time.Since(start); elapsed > heldBound {
		t.Fatalf("held TryLock took %v, want well under a second (it must not wait)", elapsed)
	}
	wantHeld(t, err, stackID, holderPID)
}

// advisoryLocks counts every advisory lock (any key space, granted or not)
// in dbURL's database, seen from a connection of its own.
func advisoryLocks(t *testing.T, dbURL string) int {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
	if err != nil {
		t.Fatalf("count advisory locks: %v", err)
	}
	return n
}

// waitNoAdvisoryLocks waits for the backends of closed connections to exit
// (their locks go with them) and fails if any advisory lock remains.
func waitNoAdvisoryLocks(t *testing.T, dbURL string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := advisoryLocks(t, dbURL)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d advisory locks still held", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantNoAcquired asserts every connection of pool is back (or destroyed).
// It allows a moment for connections that the pool goes on opening in the
// background after a cancelled Acquire: pgxpool marks them acquired until
// they are ready, then returns them.
func wantNoAcquired(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := pool.Stat()
		if st.AcquiredConns() == 0 && st.ConstructingConns() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool has %d acquired connections, want 0 (connection leak)", st.AcquiredConns())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
