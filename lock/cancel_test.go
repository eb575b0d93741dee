package lock_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/lock"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"
)

// cancelOnLock cancels the context of the lock statement as it starts.
type cancelOnLock struct {
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (c *cancelOnLock) arm(cancel context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancel = cancel
}

func (c *cancelOnLock) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil && strings.Contains(data.SQL, "pg_try_advisory_lock") {
		c.cancel()
		c.cancel = nil
	}
	return ctx
}

func (c *cancelOnLock) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestTryLockCancelled(t *testing.T) {
	t.Parallel()
	const stackID = 5
	tests := []struct {
		name string
		// run calls TryLock with a context that ends at some point of it.
		run     func(t *testing.T, l *lock.Locker, tr *cancelOnLock) error
		wantErr error
	}{
		{
			name: "before the call",
			run: func(t *testing.T, l *lock.Locker, _ *cancelOnLock) error {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				err := tryLock(ctx, t, l, stackID)
				return err
			},
			wantErr: context.Canceled,
		},
		{
			name: "as the lock statement starts",
			run: func(t *testing.T, l *lock.Locker, tr *cancelOnLock) error {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				tr.arm(cancel)
				err := tryLock(ctx, t, l, stackID)
				return err
			},
			wantErr: context.Canceled,
		},
		{
			name: "while waiting for a pool connection",
			run: func(t *testing.T, l *lock.Locker, _ *cancelOnLock) error {
				// The lease pins the pool's only connection.
				mustLock(t, l, stackID+1)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				err := tryLock(ctx, t, l, stackID)
				return err
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &cancelOnLock{}
			dbURL, pool, locker := setup(t, poolOptions{maxConns: 1, tracer: tr})
			other := lock.New(newPool(t, dbURL, poolOptions{}), zaptest.NewLogger(t))
			if err := tt.run(t, locker, tr); !errors.Is(err, tt.wantErr) {
				t.Fatalf("TryLock error = %v, want %v", err, tt.wantErr)
			}
			holders, err := other.Holders(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range holders {
				if h.StackID == stackID {
					t.Fatalf("stack %d locked after a cancelled TryLock: %+v", stackID, h)
				}
			}
			if n := pool.Stat().AcquiredConns(); n > 1 {
				t.Fatalf("%d acquired connections, want at most the lease's", n)
			}
			// Another session can take the lock.
			mustLock(t, other, stackID)
		})
	}
}

// Deadlines landing anywhere inside TryLock (acquire, statement, reply)
// never leave a lock or a connection behind.
func TestTryLockRandomDeadlines(t *testing.T) {
	t.Parallel()
	dbURL, pool, locker := setup(t, poolOptions{maxConns: 2})
	const stackID = 17
	var locked, held, cancelled int
	for range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
		lease, err := locker.TryLock(ctx, stackID)
		cancel()
		switch {
		case err == nil:
			locked++
			if err := lease.Unlock(testContext(t)); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
		case errors.Is(err, lock.ErrHeld):
			// The backend of a connection closed mid-statement may still be
			// exiting with the lock.
			held++
		case errors.Is(err, context.DeadlineExceeded):
			cancelled++
		default:
			t.Fatalf("TryLock: %v", err)
		}
	}
	t.Logf("locked %d, held %d, cancelled %d", locked, held, cancelled)
	wantNoAcquired(t, pool)
	waitNoAdvisoryLocks(t, dbURL)
}
