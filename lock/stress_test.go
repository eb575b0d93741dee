package lock_test

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/devarch/devarch-controller/lock"
)

// 1,000 lock/unlock cycles from concurrent goroutines on a 2-connection pool
// leave no advisory lock and no acquired connection behind, and never grant
// one stack to two leases at once.
func TestManyCyclesLeaveNothingBehind(t *testing.T) {
	t.Parallel()
	const (
		cycles      = 1000
		workers     = 8
		maxAttempts = 200 * cycles
	)
	dbURL, pool, locker := setup(t, poolOptions{maxConns: 2})
	ctx := testContext(t)
	ids := []int64{1, 2, 3, math.MaxInt32 + 1}

	var (
		done, attempts, held atomic.Int64
		inside               = make(map[int64]*atomic.Int32, len(ids))
		wg                   sync.WaitGroup
	)
	for _, id := range ids {
		inside[id] = new(atomic.Int32)
	}
	for w := range workers {
		wg.Go(func() {
			for i := w; done.Load() < cycles; i++ {
				if attempts.Add(1) > maxAttempts {
					t.Errorf("gave up after %d attempts", maxAttempts)
					return
				}
				id := ids[i%len(ids)]
				lease, err := locker.TryLock(ctx, id)
				if errors.Is(err, lock.ErrHeld) {
					held.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("TryLock(%d): %v", id, err)
					return
				}
				if n := inside[id].Add(1); n != 1 {
					t.Errorf("stack %d granted to %d leases at once", id, n)
				}
				if i%2 == 0 {
					if err := lease.Check(ctx); err != nil {
						t.Errorf("Check(%d): %v", id, err)
					}
				}
				inside[id].Add(-1)
				if err := lease.Unlock(ctx); err != nil {
					t.Errorf("Unlock(%d): %v", id, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	t.Logf("%d cycles, %d held outcomes, %d attempts", done.Load(), held.Load(), attempts.Load())
	if n := advisoryLocks(t, dbURL); n != 0 {
		t.Fatalf("%d advisory locks held after every lease was unlocked", n)
	}
	wantNoAcquired(t, pool)
	st := pool.Stat()
	if st.TotalConns() > 2 || st.NewConnsCount() > 2 {
		t.Fatalf("pool opened %d connections (%d open), want at most 2: a connection was discarded or leaked",
			st.NewConnsCount(), st.TotalConns())
	}
}
