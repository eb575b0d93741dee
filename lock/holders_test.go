package lock_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/lock"
	"github.com/jackc/pgx/v5"
)

func TestHolders(t *testing.T) {
	t.Parallel()
	const app = "devarch-lock-test"
	dbURL, _, locker := setup(t, poolOptions{appName: app, maxConns: 8})
	ctx := testContext(t)

	// Includes ids around the int32 boundary: they are all distinct locks
	// and pg_locks.objid shows each as itself.
	ids := []int64{3, math.MaxInt32 - 1, math.MaxInt32, math.MaxInt32 + 1, math.MaxUint32}
	before := time.Now()
	leases := make(map[int64]*lock.Lease, len(ids))
	for _, id := range ids {
		leases[id] = mustLock(t, locker, id)
	}
	after := time.Now()

	// A foreign session waits on stack 3 with a blocking lock call.
	waiter, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close(context.Background())
	waitErr := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "SELECT pg_advisory_lock($1::int4, $2::int4)", lock.Namespace, int32(3))
		waitErr <- err
	}()
	waiterPID := int32(waiter.PgConn().PID())

	var holders []lock.Holder
	deadline := time.Now().Add(10 * time.Second)
	for len(holders) != len(ids)+1 {
		if time.Now().After(deadline) {
			t.Fatalf("Holders = %+v, want %d holders and a waiter", holders, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
		if holders, err = locker.Holders(ctx); err != nil {
			t.Fatalf("Holders: %v", err)
		}
	}

	// Ordered by stack id, holders before waiters.
	want := []lock.Holder{
		{StackID: 3, BackendPID: leases[3].BackendPID(), ApplicationName: app, State: "idle", Granted: true},
		{StackID: 3, BackendPID: waiterPID, State: "active", Granted: false},
	}
	for _, id := range ids[1:] {
		want = append(want, lock.Holder{StackID: id, BackendPID: leases[id].BackendPID(), ApplicationName: app, State: "idle", Granted: true})
	}
	for i, h := range holders {
		w := want[i]
		if h.Granted && (h.Since.Before(before.Add(-time.Second)) || h.Since.After(after.Add(time.Second))) {
			t.Errorf("holder %d Since = %v, want between %v and %v", i, h.Since, before, after)
		}
		if h.Since.IsZero() {
			t.Errorf("holder %d Since is zero", i)
		}
		h.Since = time.Time{}
		if h != w {
			t.Errorf("holder %d = %+v, want %+v", i, h, w)
		}
	}

	// Cancel the waiter server-side so it does not take the lock later.
	probe, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(context.Background())
	if _, err := probe.Exec(ctx, "SELECT pg_cancel_backend($1)", waiterPID); err != nil {
		t.Fatalf("cancel waiter: %v", err)
	}
	if err := <-waitErr; err == nil {
		t.Fatal("waiter got the lock while a lease held it")
	}
}

func TestHoldersEmpty(t *testing.T) {
	t.Parallel()
	_, _, locker := setup(t, poolOptions{})
	holders, err := locker.Holders(testContext(t))
	if err != nil {
		t.Fatalf("Holders: %v", err)
	}
	if len(holders) != 0 {
		t.Fatalf("Holders = %+v, want none", holders)
	}
}
