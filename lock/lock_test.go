package lock_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/lock"
	"go.uber.org/zap/zaptest"
)

func TestTryLockHeldByAnotherSessionReturnsImmediately(t *testing.T) {
	t.Parallel()
	dbURL, _, lockerA := setup(t, poolOptions{appName: "lock-test-a"})
	poolB := newPool(t, dbURL, poolOptions{appName: "lock-test-b"})
	lockerB := lock.New(poolB, zaptest.NewLogger(t))
	ctx := testContext(t)

	const stackID = 42
	lease := mustLock(t, lockerA, stackID)

	wantHeldAtOnce(ctx, t, lockerB, stackID, lease.BackendPID())
	wantNoAcquired(t, poolB)

	// Other stacks are independent.
	other := mustLock(t, lockerB, stackID+1)
	if other.BackendPID() == lease.BackendPID() {
		t.Fatalf("two sessions report the same backend pid %d", other.BackendPID())
	}
}

func TestUnlockFreesTheLock(t *testing.T) {
	t.Parallel()
	dbURL, poolA, lockerA := setup(t, poolOptions{})
	lockerB := lock.New(newPool(t, dbURL, poolOptions{}), zaptest.NewLogger(t))
	ctx := testContext(t)

	const stackID = 7
	before := time.Now()
	lease := mustLock(t, lockerA, stackID)
	if lease.StackID() != stackID || lease.BackendPID() == 0 || lease.Since().Before(before) || lease.Since().After(time.Now()) {
		t.Fatalf("lease = stack %d pid %d since %v; want stack %d, a pid, since just now",
			lease.StackID(), lease.BackendPID(), lease.Since(), stackID)
	}
	if err := lease.Check(ctx); err != nil {
		t.Fatalf("Check on a held lease: %v", err)
	}
	if n := poolA.Stat().AcquiredConns(); n != 1 {
		t.Fatalf("held lease pins %d connections, want 1", n)
	}

	if err := lease.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	wantNoAcquired(t, poolA)
	if n := advisoryLocks(t, dbURL); n != 0 {
		t.Fatalf("%d advisory locks after Unlock, want 0", n)
	}
	if err := lease.Unlock(ctx); err != nil {
		t.Fatalf("second Unlock = %v, want nil (idempotent)", err)
	}
	if err := lease.Check(ctx); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Check after Unlock = %v, want ErrLost", err)
	}
	mustLock(t, lockerB, stackID)
}

func TestTerminatedSessionFreesTheLock(t *testing.T) {
	t.Parallel()
	dbURL, poolA, lockerA := setup(t, poolOptions{})
	poolB := newPool(t, dbURL, poolOptions{})
	lockerB := lock.New(poolB, zaptest.NewLogger(t))
	ctx := testContext(t)

	const stackID = 9
	lease := mustLock(t, lockerA, stackID)
	var terminated bool
	// The timeout argument makes pg_terminate_backend wait for the exit.
	if err := poolB.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", lease.BackendPID()).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminate backend %d: %v (terminated %v)", lease.BackendPID(), err, terminated)
	}

	mustLock(t, lockerB, stackID)

	if err := lease.Check(ctx); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Check after the session was terminated = %v, want ErrLost", err)
	}
	if err := lease.Unlock(ctx); err == nil {
		t.Fatal("Unlock on a terminated session = nil, want the failure reported")
	}
	if err := lease.Unlock(ctx); err != nil {
		t.Fatalf("second Unlock = %v, want nil (idempotent)", err)
	}
	wantNoAcquired(t, poolA)
	// The broken connection was destroyed, not pooled: the pool still works.
	other := mustLock(t, lockerA, stackID+1)
	if other.BackendPID() == lease.BackendPID() {
		t.Fatalf("pool reused the terminated session %d", lease.BackendPID())
	}
}

func TestSameProcessCannotLockTwice(t *testing.T) {
	t.Parallel()
	for _, maxConns := range []int32{2, 8} {
		t.Run(fmt.Sprintf("max_conns=%d", maxConns), func(t *testing.T) {
			t.Parallel()
			_, pool, locker := setup(t, poolOptions{maxConns: maxConns})
			ctx := testContext(t)

			const stackID = 11
			first := mustLock(t, locker, stackID)
			wantHeldAtOnce(ctx, t, locker, stackID, first.BackendPID())
			if n := pool.Stat().AcquiredConns(); n != 1 {
				t.Fatalf("%d acquired connections, want only the lease's", n)
			}
			second := mustLock(t, locker, stackID+1)
			if second.BackendPID() == first.BackendPID() {
				t.Fatalf("two leases share session %d", first.BackendPID())
			}
		})
	}
}

// A lock leaked onto a pooled session (taken through the pool and never
// released) must not be granted again re-entrantly to a lease.
func TestTryLockRefusesReentrantSession(t *testing.T) {
	t.Parallel()
	dbURL, pool, locker := setup(t, poolOptions{maxConns: 1})
	ctx := testContext(t)

	const stackID = 13
	_, key2, err := lock.Key(stackID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT pg_advisory_lock($1::int4, $2::int4)", lock.Namespace, key2); err != nil {
		t.Fatalf("leak a lock onto the pool's only connection: %v", err)
	}
	if err := tryLock(ctx, t, locker, stackID); !errors.Is(err, lock.ErrReentrant) {
		t.Fatalf("TryLock on a session already holding the lock = %v, want ErrReentrant", err)
	}
	wantNoAcquired(t, pool)
	waitNoAdvisoryLocks(t, dbURL)
	mustLock(t, locker, stackID)
}

// One-key (bigint) locks live in a different key space from two-key locks,
// even when pg_locks shows the same classid and objid; other two-key
// namespaces are different locks too.
func TestKeySpacesDoNotCollide(t *testing.T) {
	t.Parallel()
	dbURL, _, locker := setup(t, poolOptions{})
	foreign := newPool(t, dbURL, poolOptions{maxConns: 1})
	ctx := testContext(t)

	const stackID = 21
	conn, err := foreign.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	bigint := int64(lock.Namespace)<<32 | stackID
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1::int8), pg_advisory_lock($2::int4, $3::int4),
		pg_advisory_lock($3::int4, $2::int4)`, bigint, lock.Namespace+1, int32(stackID)); err != nil {
		t.Fatalf("take foreign locks: %v", err)
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")
	}()
	var classid, objid int64
	var objsubid int16
	err = conn.QueryRow(ctx, `SELECT classid::int8, objid::int8, objsubid FROM pg_locks
		WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 1`).Scan(&classid, &objid, &objsubid)
	if err != nil {
		t.Fatalf("read one-key lock: %v", err)
	}
	if classid != int64(lock.Namespace) || objid != stackID {
		t.Fatalf("one-key lock shows as (%d, %d, %d), want the same classid/objid as the stack lock", classid, objid, objsubid)
	}

	lease := mustLock(t, locker, stackID)
	holders, err := locker.Holders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 1 || holders[0].BackendPID != lease.BackendPID() {
		t.Fatalf("Holders = %+v, want only the lease (foreign locks are other key spaces)", holders)
	}
}

func TestTryLockRefusesOutOfRangeIDs(t *testing.T) {
	t.Parallel()
	_, pool, locker := setup(t, poolOptions{})
	ctx := testContext(t)
	for _, id := range []int64{0, -1, math.MaxUint32 + 1, math.MaxInt64} {
		before := pool.Stat().AcquireCount()
		if err := tryLock(ctx, t, locker, id); !errors.Is(err, lock.ErrStackIDOutOfRange) {
			t.Errorf("TryLock(%d) = %v, want ErrStackIDOutOfRange", id, err)
		}
		if after := pool.Stat().AcquireCount(); after != before {
			t.Errorf("TryLock(%d) acquired a connection for an invalid id", id)
		}
	}
}
