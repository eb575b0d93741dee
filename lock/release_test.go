package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/lock"
)

// TestReleaseCommitsAndUnlocks: Release runs its function in a transaction
// on the lock's session, commits it and frees the lock; a failing function
// leaves nothing written and frees the lock too.
func TestReleaseCommitsAndUnlocks(t *testing.T) {
	t.Parallel()
	dbURL, pool, locker := setup(t, poolOptions{})
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE work (id int PRIMARY KEY, done bool NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO work VALUES (1, false), (2, false)`); err != nil {
		t.Fatal(err)
	}
	done := func(id int) bool {
		var d bool
		if err := pool.QueryRow(ctx, `SELECT done FROM work WHERE id = $1`, id).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}

	lease := mustLock(t, locker, 41)
	err := lease.Release(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE work SET done = true WHERE id = 1`)
		return err
	})
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if !done(1) {
		t.Error("Release did not commit the function's write")
	}
	wantNoAcquired(t, pool)
	if n := advisoryLocks(t, dbURL); n != 0 {
		t.Fatalf("%d advisory locks after Release, want 0", n)
	}
	if err := lease.Release(ctx, func(context.Context, pgx.Tx) error { t.Error("fn ran on a released lease"); return nil }); !errors.Is(err, lock.ErrLost) {
		t.Errorf("second Release = %v, want ErrLost", err)
	}

	lease = mustLock(t, locker, 42)
	boom := errors.New("boom")
	err = lease.Release(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE work SET done = true WHERE id = 2`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Release = %v, want the function's error", err)
	}
	if done(2) {
		t.Error("a failed Release committed the function's write")
	}
	if n := advisoryLocks(t, dbURL); n != 0 {
		t.Fatalf("%d advisory locks after a failed Release, want 0", n)
	}
}

// TestReleaseNeverShowsFinishedWorkUnderTheLock: an observer polling "is
// the work recorded finished, and is the lock held" in one statement never
// sees both while Release records the work and frees the lock: a successor
// that sees the work finished never finds the lock of its predecessor.
func TestReleaseNeverShowsFinishedWorkUnderTheLock(t *testing.T) {
	t.Parallel()
	_, pool, locker := setup(t, poolOptions{maxConns: 6})
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE work (id int PRIMARY KEY, done bool NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const stackID = 43
	var bad, polls atomic.Int64
	for round := range 50 {
		if _, err := pool.Exec(ctx, `INSERT INTO work VALUES ($1, false)`, round); err != nil {
			t.Fatal(err)
		}
		lease := mustLock(t, locker, stackID)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var finished, held bool
					err := pool.QueryRow(ctx, `SELECT w.done, EXISTS (SELECT 1 FROM pg_locks
						WHERE locktype = 'advisory' AND objsubid = 2 AND objid::int8 = $2 AND granted)
						FROM work w WHERE w.id = $1`, round, stackID).Scan(&finished, &held)
					if err != nil {
						t.Error(err)
						return
					}
					polls.Add(1)
					if finished && held {
						bad.Add(1)
					}
				}
			}()
		}
		err := lease.Release(ctx, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE work SET done = true WHERE id = $1`, round)
			return err
		})
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: Release: %v", round, err)
		}
	}
	if bad.Load() > 0 {
		t.Fatalf("%d of %d polls saw the work finished while the lock was still held", bad.Load(), polls.Load())
	}
	t.Logf("%d polls, none saw finished work under the lock", polls.Load())
}
