package state_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/state"
)

const testPlan = `{"stack": "shop", "changes": [{"instance": "db", "action": "add"}]}`

// openStores migrates a fresh database and opens n stores on it, each with
// its own pool (as separate controller replicas would).
func openStores(t *testing.T, n int) (string, []*state.Store) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	stores := make([]*state.Store, n)
	for i := range stores {
		s, err := state.Open(ctx, url, fmt.Sprintf("replica-%d", i))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	return url, stores
}

// storeWithShop returns a fresh store holding one stack row, "shop", its
// id, and a test context.
func storeWithShop(t *testing.T) (*state.Store, context.Context, int64) {
	t.Helper()
	s := newStore(t)
	return s, testContext(t), newStackRow(t, s, "shop")
}

// newStackRow inserts a bare live stack and returns its id.
func newStackRow(t *testing.T, s *state.Store, name string) int64 {
	t.Helper()
	var id int64
	if err := s.Pool().QueryRow(testContext(t), `INSERT INTO stacks (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
		t.Fatalf("insert stack %s: %v", name, err)
	}
	return id
}

func fileApproval(t *testing.T, s *state.Store, stackID int64, ttl time.Duration) approval.Approval {
	t.Helper()
	a, err := s.CreateApproval(testContext(t), stackID, "token-1", []byte(testPlan), "alice", ttl)
	if err != nil {
		t.Fatalf("CreateApproval(stack %d): %v", stackID, err)
	}
	return a
}

// claim claims the next approval of a stack and fails unless there is one.
func claim(t *testing.T, s *state.Store, stackID int64) approval.Approval {
	t.Helper()
	a, err := s.ClaimApproval(testContext(t), stackID, "replica-test")
	if err != nil || a == nil {
		t.Fatalf("ClaimApproval(stack %d) = %v, %v; want an approval", stackID, a, err)
	}
	return *a
}

func approvalStatus(t *testing.T, s *state.Store, id int64) approval.Approval {
	t.Helper()
	a, err := s.Approval(testContext(t), id)
	if err != nil {
		t.Fatalf("Approval(%d): %v", id, err)
	}
	return a
}

// assertSentence checks a user-facing message is a full sentence.
// expectErr fails the test unless err is what want asks for (nil: no
// error, errAny: any error, else one wrapping want) and a wanted error
// holds no secret. It reports whether an error was wanted, which ends the
// case.
func expectErr(t *testing.T, op string, err, want error) bool {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return false
	}
	if err == nil || (want != errAny && !errors.Is(err, want)) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	assertNoSecret(t, "error", err.Error())
	return true
}

func assertSentence(t *testing.T, what, msg string) {
	t.Helper()
	if msg == "" || !unicode.IsUpper([]rune(msg)[0]) || !strings.HasSuffix(msg, ".") {
		t.Errorf("%s message %q is not a full sentence", what, msg)
	}
}

func TestCreateApproval(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	live := newStackRow(t, s, "shop")
	deleted := newStackRow(t, s, "gone")
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET deleted_at = now(), removed_at = now() WHERE id = $1`, deleted); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		stackID  int64
		token    string
		plan     string
		ttl      time.Duration
		wantErr  error // nil: success; errAny: some error
		wantPlan string
	}{
		{name: "never expires", stackID: live, token: "tok", plan: testPlan, wantPlan: testPlan},
		{name: "expires after ttl", stackID: live, token: "tok", plan: testPlan, ttl: time.Hour, wantPlan: testPlan},
		{name: "negative ttl never expires", stackID: live, token: "tok", plan: testPlan, ttl: -time.Second, wantPlan: testPlan},
		{name: "NUL escape stored as U+FFFD", stackID: live, token: "tok", plan: `{"msg": "a\u0000b \\u0000"}`, wantPlan: `{"msg": "a\ufffdb \\u0000"}`},
		{name: "escaped backslash before NUL", stackID: live, token: "tok", plan: `{"a": "\\\u0000", "b": ["\u0000"], "\u0000": 1}`,
			wantPlan: `{"a": "\\\ufffd", "b": ["\ufffd"], "\ufffd": 1}`},
		{name: "removed stack", stackID: deleted, token: "tok", plan: testPlan, wantErr: state.ErrNotFound},
		{name: "unknown stack", stackID: 999999, token: "tok", plan: testPlan, wantErr: state.ErrNotFound},
		{name: "blank token", stackID: live, token: " ", plan: testPlan, wantErr: errAny},
		{name: "invalid plan", stackID: live, token: "tok", plan: `{"password": "` + secretValue, wantErr: errAny},
		{name: "empty plan", stackID: live, token: "tok", plan: "", wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.CreateApproval(ctx, tc.stackID, tc.token, []byte(tc.plan), "alice", tc.ttl)
			if expectErr(t, "CreateApproval", err, tc.wantErr) {
				return
			}
			if a.Status != approval.Pending || a.StackID != live || a.Stack != "shop" || a.Token != tc.token ||
				a.RequestedBy != "alice" || a.StartedAt != nil || a.FinishedAt != nil || a.ClaimedBy != "" || a.LockPID != 0 {
				t.Errorf("created %+v", a)
			}
			assertJSONEqual(t, "plan", a.Plan, tc.wantPlan)
			switch {
			case tc.ttl <= 0 && a.ExpiresAt != nil:
				t.Errorf("ttl %v: expires at %v, want never", tc.ttl, a.ExpiresAt)
			case tc.ttl > 0 && (a.ExpiresAt == nil || a.ExpiresAt.Sub(a.CreatedAt) != tc.ttl):
				t.Errorf("ttl %v: expires at %v, created at %v", tc.ttl, a.ExpiresAt, a.CreatedAt)
			}
			if got := approvalStatus(t, s, a.ID); !bytes.Equal(got.Plan, a.Plan) || got.Status != a.Status {
				t.Errorf("read back %+v, created %+v", got, a)
			}
		})
	}
}

// TestCreateApprovalRacesStackDelete files an approval while another
// transaction removes the stack for good (a deleting stack still takes
// approvals of its removal plan): the create waits for it and then reports
// the stack gone (a foreign-key check alone would let it through).
func TestCreateApprovalRacesStackDelete(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, `UPDATE stacks SET deleted_at = now(), removed_at = now() WHERE id = $1`, stackID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.CreateApproval(ctx, stackID, "tok", []byte(testPlan), "alice", 0)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("CreateApproval returned %v while the delete was uncommitted; it must wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, state.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM approvals`); n != 0 {
		t.Errorf("%d approvals filed for a removed stack", n)
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

func assertJSONEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

// TestClaimApprovalExactlyOnce files 50 approvals over 10 stacks, then lets
// 3 replicas (own pools) claim and finish them concurrently.
func TestClaimApprovalExactlyOnce(t *testing.T) {
	t.Parallel()
	const replicas, stacks, approvals = 3, 10, 50
	_, stores := openStores(t, replicas)
	ctx := testContext(t)
	stackIDs := make([]int64, stacks)
	for i := range stackIDs {
		stackIDs[i] = newStackRow(t, stores[0], fmt.Sprintf("stack-%d", i))
	}
	var wg sync.WaitGroup
	for i := range approvals {
		wg.Go(func() { fileApproval(t, stores[i%replicas], stackIDs[i%stacks], 0) })
	}
	wg.Wait()

	var (
		mu      sync.Mutex
		claims  = map[int64]int{}     // approval id → times claimed
		order   = map[int64][]int64{} // stack id → approval ids in claim order
		byWho   = map[string]int{}
		done    atomic.Int64
		failure atomic.Value
	)
	fail := func(format string, args ...any) { failure.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	start := make(chan struct{})
	for r, s := range stores {
		name := fmt.Sprintf("replica-%d", r)
		wg.Go(func() {
			<-start
			for done.Load() < approvals && failure.Load() == nil && ctx.Err() == nil {
				for _, stackID := range stackIDs {
					a, err := s.ClaimApproval(ctx, stackID, name)
					if err != nil {
						fail("%s: ClaimApproval: %v", name, err)
						return
					}
					if a == nil {
						continue
					}
					mu.Lock()
					claims[a.ID]++
					order[stackID] = append(order[stackID], a.ID)
					byWho[name]++
					mu.Unlock()
					var applying int
					if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM approvals WHERE stack_id = $1 AND status = 'applying'`, stackID).Scan(&applying); err != nil || applying != 1 {
						fail("stack %d: %d applying approvals while %s applies %d (%v)", stackID, applying, name, a.ID, err)
					}
					if a.Status != approval.Applying || a.ClaimedBy != name || a.StackID != stackID || a.StartedAt == nil {
						fail("claimed %+v", *a)
					}
					if err := s.FinishApproval(ctx, a.ID, approval.Succeeded, "Applied.", nil); err != nil {
						fail("FinishApproval(%d): %v", a.ID, err)
					}
					done.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if f := failure.Load(); f != nil {
		t.Fatal(f)
	}
	if len(claims) != approvals {
		t.Fatalf("%d approvals claimed, want %d", len(claims), approvals)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("approval %d claimed %d times", id, n)
		}
	}
	for stackID, ids := range order {
		if !slices.IsSorted(ids) || len(ids) != approvals/stacks {
			t.Errorf("stack %d: claim order %v, want %d ids in ascending order", stackID, ids, approvals/stacks)
		}
	}
	counts, err := stores[0].ApprovalCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[string(approval.Succeeded)] != approvals || counts[string(approval.Pending)] != 0 || counts[string(approval.Applying)] != 0 {
		t.Errorf("counts after the run: %v", counts)
	}
	t.Logf("claims per replica: %v", byWho)
}

func TestClaimApprovalRules(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	first, second := fileApproval(t, s, stackID, 0), fileApproval(t, s, stackID, 0)

	if _, err := s.ClaimApproval(ctx, stackID, " "); err == nil {
		t.Error("ClaimApproval accepted a blank replica")
	}
	if a, err := s.ClaimApproval(ctx, 999999, "r"); a != nil || err != nil {
		t.Errorf("unknown stack: %v, %v; want nil, nil", a, err)
	}
	if got := claim(t, s, stackID); got.ID != first.ID {
		t.Fatalf("claimed %d, want the oldest %d", got.ID, first.ID)
	}
	if a, err := s.ClaimApproval(ctx, stackID, "r"); a != nil || err != nil {
		t.Fatalf("claim while %d applies = %v, %v; want nil, nil", first.ID, a, err)
	}
	// A claim that slipped past the applying check (simulated by hand) is
	// stopped by the unique index and reported as nothing claimed.
	_, err := s.Pool().Exec(ctx, `UPDATE approvals SET status = 'applying', claimed_by = 'x', started_at = now() WHERE id = $1`, second.ID)
	if code, constraint := pgCode(err); code != "23505" || constraint != "approvals_one_applying_per_stack" {
		t.Fatalf("second applying approval: err %v, want unique violation", err)
	}
	if err := s.FinishApproval(ctx, first.ID, approval.Succeeded, "Applied.", nil); err != nil {
		t.Fatal(err)
	}
	// Approvals filed before the stack was deleted are still claimed, so
	// the loop can finish them.
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stackID); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, stackID); got.ID != second.ID {
		t.Errorf("claimed %d, want %d", got.ID, second.ID)
	}
}

// TestClaimApprovalSkipsLockedStack holds the stack row in another
// transaction: a claim must return nil at once instead of waiting, except
// for the KEY SHARE lock a foreign-key check takes.
func TestClaimApprovalSkipsLockedStack(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tests := []struct {
		lock      string
		wantClaim bool
	}{
		{"FOR UPDATE", false},
		{"FOR NO KEY UPDATE", false},
		{"FOR SHARE", false},
		{"FOR KEY SHARE", true},
	}
	for i, tc := range tests {
		t.Run(tc.lock, func(t *testing.T) {
			ctx := testContext(t)
			stackID := newStackRow(t, s, fmt.Sprintf("locked-%d", i))
			want := fileApproval(t, s, stackID, 0)
			tx, err := s.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(context.Background()) }()
			if _, err := tx.Exec(ctx, `SELECT 1 FROM stacks WHERE id = $1 `+tc.lock, stackID); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			began := time.Now()
			a, err := s.ClaimApproval(short, stackID, "r")
			if took := time.Since(began); took > 500*time.Millisecond {
				t.Errorf("ClaimApproval took %v with the stack row locked %s; it must not wait", took, tc.lock)
			}
			if err != nil || (a != nil) != tc.wantClaim {
				t.Fatalf("ClaimApproval = %v, %v; want claimed %v", a, err, tc.wantClaim)
			}
			if tc.wantClaim {
				return
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if got := claim(t, s, stackID); got.ID != want.ID {
				t.Errorf("after the lock was released: claimed %d, want %d", got.ID, want.ID)
			}
		})
	}
}

func TestExpireApprovals(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	short := fileApproval(t, s, stackID, 50*time.Millisecond)
	lasting := fileApproval(t, s, stackID, time.Hour)
	time.Sleep(100 * time.Millisecond)

	pending, _, err := s.ActiveApprovalStacks(ctx)
	if err != nil || !slices.Equal(pending, []int64{stackID}) {
		t.Fatalf("ActiveApprovalStacks pending = %v, %v", pending, err)
	}
	if got := claim(t, s, stackID); got.ID != lasting.ID {
		t.Fatalf("claimed %d, want %d (the older one expired)", got.ID, lasting.ID)
	}
	if n, err := s.ExpireApprovals(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireApprovals = %d, %v; want 1", n, err)
	}
	a := approvalStatus(t, s, short.ID)
	if a.Status != approval.Expired || a.FinishedAt == nil || a.StartedAt != nil || a.Duration() != 0 {
		t.Errorf("expired approval: %+v", a)
	}
	assertSentence(t, "expired", a.Message)
	if n, err := s.ExpireApprovals(ctx); err != nil || n != 0 {
		t.Errorf("second ExpireApprovals = %d, %v; want 0", n, err)
	}
	if got := approvalStatus(t, s, lasting.ID); got.Status != approval.Applying {
		t.Errorf("applying approval became %s", got.Status)
	}
	pending, applying, err := s.ActiveApprovalStacks(ctx)
	if err != nil || len(pending) != 0 || !slices.Equal(applying, []int64{stackID}) {
		t.Errorf("ActiveApprovalStacks = %v, %v, %v", pending, applying, err)
	}
}

// TestInterruptOrphanedApprovals sets up one applying approval per case
// and runs one sweep over all of them.
func TestInterruptOrphanedApprovals(t *testing.T) {
	t.Parallel()
	_, stores := openStores(t, 2)
	s, locks := stores[0], lock.New(stores[1].Pool(), nil)
	ctx := testContext(t)
	lease := func(t *testing.T, stackID int64) *lock.Lease {
		l, err := locks.TryLock(ctx, stackID)
		if err != nil {
			t.Fatalf("TryLock: %v", err)
		}
		t.Cleanup(func() { _ = l.Unlock(context.Background()) })
		return l
	}
	mark := func(t *testing.T, id int64, pid int32) {
		if err := s.MarkApprovalLocked(ctx, id, pid); err != nil {
			t.Fatalf("MarkApprovalLocked: %v", err)
		}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, a approval.Approval)
		interrupt bool
	}{
		{"lock held by the recorded session", func(t *testing.T, a approval.Approval) {
			mark(t, a.ID, lease(t, a.StackID).BackendPID())
		}, false},
		{"lock released", func(t *testing.T, a approval.Approval) {
			l := lease(t, a.StackID)
			mark(t, a.ID, l.BackendPID())
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"locking session terminated", func(t *testing.T, a approval.Approval) {
			l := lease(t, a.StackID)
			mark(t, a.ID, l.BackendPID())
			var ok bool
			if err := s.Pool().QueryRow(ctx, `SELECT pg_terminate_backend($1, 5000)`, l.BackendPID()).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
			}
		}, true},
		{"lock held by another session than recorded", func(t *testing.T, a approval.Approval) {
			l := lease(t, a.StackID)
			mark(t, a.ID, l.BackendPID()+100000)
		}, true},
		{"recorded session holds the lock of another namespace", func(t *testing.T, a approval.Approval) {
			conn, err := stores[1].Pool().Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Conn().Close(context.Background()); conn.Release() })
			var pid int32
			if err := conn.QueryRow(ctx, `SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1::int4 + 1, $2::int4)) l`, lock.Namespace, int32(a.StackID)).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			mark(t, a.ID, pid)
		}, true},
		{"no lock recorded, claimed longer ago than grace", func(t *testing.T, a approval.Approval) {
			if _, err := s.Pool().Exec(ctx, `UPDATE approvals SET started_at = now() - interval '2 hours' WHERE id = $1`, a.ID); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"no lock recorded, within grace", func(t *testing.T, a approval.Approval) {}, false},
	}
	ids := make([]int64, len(tests))
	var want []int64
	for i, tc := range tests {
		a := claim(t, s, fileApproval(t, s, newStackRow(t, s, fmt.Sprintf("stack-%d", i)), 0).StackID)
		tc.setup(t, a)
		ids[i] = a.ID
		if tc.interrupt {
			want = append(want, a.StackID)
		}
	}
	if _, err := s.InterruptOrphanedApprovals(ctx, lock.Namespace, 0); err == nil {
		t.Error("InterruptOrphanedApprovals accepted a zero grace")
	}
	got, err := s.InterruptOrphanedApprovals(ctx, lock.Namespace, time.Hour)
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("InterruptOrphanedApprovals = stacks %v, %v; want %v", got, err, want)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := approvalStatus(t, s, ids[i])
			switch {
			case tc.interrupt && (a.Status != approval.Interrupted || a.FinishedAt == nil):
				t.Errorf("status %s, want interrupted", a.Status)
			case tc.interrupt:
				assertSentence(t, "interrupted", a.Message)
			case a.Status != approval.Applying:
				t.Errorf("status %s, want applying", a.Status)
			}
		})
	}
}

func TestMarkApprovalLocked(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	applying := claim(t, s, fileApproval(t, s, stackID, 0).StackID)
	pending := fileApproval(t, s, stackID, 0)
	tests := []struct {
		name    string
		id      int64
		pid     int32
		wantErr error
	}{
		{"applying", applying.ID, 4242, nil},
		{"pending", pending.ID, 4242, state.ErrNotApplying},
		{"unknown", 999999, 4242, state.ErrNotFound},
		{"zero pid", applying.ID, 0, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.MarkApprovalLocked(ctx, tc.id, tc.pid)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("MarkApprovalLocked: %v", err)
			case tc.wantErr == nil:
				if got := approvalStatus(t, s, tc.id); got.LockPID != tc.pid {
					t.Errorf("lock pid %d, want %d", got.LockPID, tc.pid)
				}
			case err == nil || (tc.wantErr != errAny && !errors.Is(err, tc.wantErr)):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestMigration3InterruptsDuplicateApplying migrates to version 2, makes a
// stack have two applying approvals by hand, and checks that migration 3
// keeps the oldest and interrupts the other before adding the index, and
// that its down migration restores the previous index.
func TestMigration3InterruptsDuplicateApplying(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithTableName(state.MigrationTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatalf("migrate to 2: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO stacks (name) VALUES ('dup');
		INSERT INTO approvals (stack_id, token, plan, requested_by, status, claimed_by, started_at)
		SELECT id, 't', '{}', 'me', 'applying', 'r', now() FROM stacks, generate_series(1, 3)`); err != nil {
		t.Fatal(err)
	}
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT status, message FROM approvals ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for rows.Next() {
		var st, msg string
		if err := rows.Scan(&st, &msg); err != nil {
			t.Fatal(err)
		}
		if st == string(approval.Interrupted) {
			assertSentence(t, "migration", msg)
		}
		statuses = append(statuses, st)
	}
	if want := []string{"applying", "interrupted", "interrupted"}; !slices.Equal(statuses, want) {
		t.Errorf("statuses after migration 3: %v, want %v", statuses, want)
	}
	index := func(name string) bool {
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !index("approvals_one_applying_per_stack") || index("approvals_applying_stack") || !index("approvals_pending_stack") {
		t.Error("migration 3 did not swap the indexes")
	}
	if _, err := provider.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to 2: %v", err)
	}
	if index("approvals_one_applying_per_stack") || !index("approvals_applying_stack") || index("approvals_pending_stack") {
		t.Error("down migration 3 did not restore the indexes")
	}
}

// TestAppendApprovalEventsConcurrently appends 4 × 50 events to one
// approval from 4 goroutines (each with its own pool, in batches of
// different sizes) and checks numbering, order, paging and NOTIFY.
func TestAppendApprovalEventsConcurrently(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 4, 50
	_, stores := openStores(t, writers)
	ctx := testContext(t)
	a := claim(t, stores[0], fileApproval(t, stores[0], newStackRow(t, stores[0], "shop"), 0).StackID)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notes, err := stores[0].Listen(lctx, state.ChannelApprovalEvents)
	if err != nil {
		t.Fatal(err)
	}

	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Go(func() {
			batch := w + 1 // 1, 2, 3, 4 events per call
			for i := 0; i < perWriter && errs[w] == nil; i += batch {
				var evs []approval.Event
				for j := i; j < min(i+batch, perWriter); j++ {
					evs = append(evs, approval.Event{Container: fmt.Sprintf("w%d", w), Action: "create",
						Status: "done", Message: fmt.Sprintf("%d", j)})
				}
				errs[w] = s.AppendApprovalEvents(ctx, a.ID, evs)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("AppendApprovalEvents: %v", err)
	}

	events, err := stores[0].ApprovalEvents(ctx, a.ID, 0)
	if err != nil || len(events) != writers*perWriter {
		t.Fatalf("ApprovalEvents = %d events, %v; want %d", len(events), err, writers*perWriter)
	}
	next := map[string]int{} // writer → next message number
	for i, e := range events {
		if e.Seq != i+1 || e.ApprovalID != a.ID || e.At.IsZero() {
			t.Fatalf("event %d: %+v", i, e)
		}
		if e.Message != fmt.Sprint(next[e.Container]) {
			t.Fatalf("event seq %d of %s is message %s, want %d: a writer's events are out of order", e.Seq, e.Container, e.Message, next[e.Container])
		}
		next[e.Container]++
	}
	for _, tc := range []struct{ after, want, first int }{{0, 200, 1}, {150, 50, 151}, {199, 1, 200}, {200, 0, 0}} {
		page, err := stores[1].ApprovalEvents(ctx, a.ID, tc.after)
		if err != nil || len(page) != tc.want || (tc.want > 0 && page[0].Seq != tc.first) {
			t.Errorf("ApprovalEvents(after %d) = %d events, %v; want %d from seq %d", tc.after, len(page), err, tc.want, tc.first)
		}
	}

	seen := map[int]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < writers*perWriter {
		select {
		case n := <-notes:
			c, err := state.ParseApprovalEventChange(n.Payload)
			if err != nil || c.ApprovalID != a.ID {
				t.Fatalf("notification %+v: %v", n, err)
			}
			seen[c.Seq] = true
		case <-timeout:
			t.Fatalf("%d of %d event notifications after 10s", len(seen), writers*perWriter)
		}
	}
}

func TestAppendApprovalEventsRules(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	applying := claim(t, s, fileApproval(t, s, stackID, 0).StackID)
	pending := fileApproval(t, s, stackID, 0)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		id      int64
		event   approval.Event
		wantErr error
		want    approval.Event // compared when wantErr is nil
	}{
		{"given time kept", applying.ID, approval.Event{At: at, Container: "c", Action: "create", Status: "done", Message: "ok"}, nil,
			approval.Event{At: at, Container: "c", Action: "create", Status: "done", Message: "ok"}},
		{"zero time is now", applying.ID, approval.Event{Container: "c"}, nil, approval.Event{Container: "c"}},
		{"text PostgreSQL refuses", applying.ID, approval.Event{Container: "c", Message: "a\x00b\xffc"}, nil,
			approval.Event{Container: "c", Message: "a\uFFFDb\uFFFDc"}},
		{"never claimed", pending.ID, approval.Event{Message: secretValue}, state.ErrNotApplying, approval.Event{}},
		{"unknown approval", 999999, approval.Event{Message: secretValue}, state.ErrNotFound, approval.Event{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			err := s.AppendApprovalEvents(ctx, tc.id, []approval.Event{tc.event})
			if expectErr(t, "AppendApprovalEvents", err, tc.wantErr) {
				return
			}
			events, err := s.ApprovalEvents(ctx, tc.id, 0)
			if err != nil || len(events) == 0 {
				t.Fatalf("ApprovalEvents: %v, %v", events, err)
			}
			got := events[len(events)-1]
			if tc.want.At.IsZero() {
				if got.At.Before(before.Add(-time.Minute)) || got.At.After(time.Now().Add(time.Minute)) {
					t.Errorf("at = %v, want about now", got.At)
				}
				got.At = time.Time{}
			}
			got.At = got.At.UTC()
			tc.want.ApprovalID, tc.want.Seq = tc.id, len(events)
			if got != tc.want {
				t.Errorf("stored %+v, want %+v", got, tc.want)
			}
		})
	}
	if err := s.AppendApprovalEvents(ctx, pending.ID, nil); err != nil {
		t.Errorf("appending no events: %v", err)
	}
}

func TestCancelApproval(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	applying := claim(t, s, fileApproval(t, s, stackID, 0).StackID)
	pending, pending2 := fileApproval(t, s, stackID, 0), fileApproval(t, s, stackID, 0)
	tests := []struct {
		name    string
		id      int64
		message string
		wantErr error
		wantMsg string
	}{
		{"pending with message", pending.ID, "Cancelled by alice.", nil, "Cancelled by alice."},
		{"pending without message", pending2.ID, "", nil, ""},
		{"already cancelled", pending.ID, secretValue, state.ErrNotPending, ""},
		{"applying", applying.ID, secretValue, state.ErrNotPending, ""},
		{"unknown", 999999, secretValue, state.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.CancelApproval(ctx, tc.id, tc.message)
			if expectErr(t, "CancelApproval", err, tc.wantErr) {
				return
			}
			if a.Status != approval.Cancelled || a.FinishedAt == nil || a.ID != tc.id || a.Stack != "shop" {
				t.Errorf("cancelled approval: %+v", a)
			}
			if assertSentence(t, "cancelled", a.Message); tc.wantMsg != "" && a.Message != tc.wantMsg {
				t.Errorf("message %q, want %q", a.Message, tc.wantMsg)
			}
		})
	}
	if got := approvalStatus(t, s, applying.ID); got.Status != approval.Applying {
		t.Errorf("a refused cancel changed the applying approval to %s", got.Status)
	}
}

func TestFinishApproval(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	type result struct {
		ComposeOutput string         `json:"compose_output"`
		Durations     map[string]int `json:"durations"`
	}
	tests := []struct {
		name       string
		claimed    bool
		status     approval.Status
		result     any
		wantErr    error
		wantResult string
	}{
		{"succeeded with result", true, approval.Succeeded, result{"up", map[string]int{"db": 2}}, nil, `{"compose_output": "up", "durations": {"db": 2}}`},
		{"failed with NUL in output", true, approval.Failed, result{ComposeOutput: "a\x00b"}, nil, `{"compose_output": "a\ufffdb", "durations": null}`},
		{"stale without result", true, approval.Stale, nil, nil, "null"},
		{"conflict with raw JSON", true, approval.Conflict, json.RawMessage(`{"holder": 42}`), nil, `{"holder": 42}`},
		{"interrupted", true, approval.Interrupted, nil, nil, "null"},
		{"from pending", false, approval.Succeeded, nil, state.ErrNotApplying, ""},
		{"cancelled is no outcome", true, approval.Cancelled, nil, errAny, ""},
		{"applying is not final", true, approval.Applying, nil, errAny, ""},
		{"unknown status", true, secretValue, nil, errAny, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := fileApproval(t, s, newStackRow(t, s, fmt.Sprintf("stack-%d", i)), 0)
			if tc.claimed {
				a = claim(t, s, a.StackID)
			}
			err := s.FinishApproval(ctx, a.ID, tc.status, "Done.", tc.result)
			got := approvalStatus(t, s, a.ID)
			if expectErr(t, "FinishApproval", err, tc.wantErr) {
				if got.Status != a.Status {
					t.Errorf("a refused finish changed the status to %s", got.Status)
				}
				return
			}
			if got.Status != tc.status || got.Message != "Done." || got.FinishedAt == nil {
				t.Errorf("finished approval: %+v", got)
			}
			assertJSONEqual(t, "result", got.Result, tc.wantResult)
			if d := got.Duration(); d < 0 || d != got.FinishedAt.Sub(*got.StartedAt) {
				t.Errorf("Duration() = %v, started %v finished %v", d, got.StartedAt, got.FinishedAt)
			}
			if err := s.FinishApproval(ctx, a.ID, approval.Succeeded, "Again.", nil); !errors.Is(err, state.ErrNotApplying) {
				t.Errorf("second finish: err = %v, want ErrNotApplying", err)
			}
		})
	}
	if err := s.FinishApproval(ctx, 999999, approval.Succeeded, "Done.", nil); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown approval: err = %v, want ErrNotFound", err)
	}
}

func TestApprovalDuration(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	tests := []struct {
		name              string
		started, finished *time.Time
		want              time.Duration
	}{
		{"finished", &start, &end, 90 * time.Second},
		{"applying", &start, nil, 0},
		{"never claimed", nil, &end, 0},
		{"pending", nil, nil, 0},
	}
	for _, tc := range tests {
		if got := (approval.Approval{StartedAt: tc.started, FinishedAt: tc.finished}).Duration(); got != tc.want {
			t.Errorf("%s: Duration() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestApprovalCountsAndListing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	counts, err := s.ApprovalCounts(ctx)
	if err != nil || len(counts) != len(approval.Statuses()) {
		t.Fatalf("ApprovalCounts on an empty table = %v, %v; want every status", counts, err)
	}
	for st, n := range counts {
		if n != 0 {
			t.Errorf("empty table: %s = %d", st, n)
		}
	}
	one, two := newStackRow(t, s, "one"), newStackRow(t, s, "two")
	fileApproval(t, s, one, 0)
	fileApproval(t, s, one, 0)
	cancelled := fileApproval(t, s, two, 0)
	if _, err := s.CancelApproval(ctx, cancelled.ID, ""); err != nil {
		t.Fatal(err)
	}
	claim(t, s, one)
	counts, err = s.ApprovalCounts(ctx)
	want := map[approval.Status]int{approval.Pending: 1, approval.Applying: 1, approval.Cancelled: 1}
	for _, st := range approval.Statuses() {
		if counts[string(st)] != want[st] {
			t.Errorf("%s = %d, want %d (%v)", st, counts[string(st)], want[st], err)
		}
	}
	pending, applying, err := s.ActiveApprovalStacks(ctx)
	if err != nil || !slices.Equal(pending, []int64{one}) || !slices.Equal(applying, []int64{one}) {
		t.Errorf("ActiveApprovalStacks = %v, %v, %v; want [%d] [%d]", pending, applying, err, one, one)
	}
	for _, tc := range []struct {
		stack int64
		limit int
		want  int
	}{{0, 0, 3}, {0, 2, 2}, {one, 0, 2}, {two, 10, 1}} {
		list, err := s.Approvals(ctx, tc.stack, tc.limit)
		if err != nil || len(list) != tc.want || !slices.IsSortedFunc(list, func(a, b approval.Approval) int { return int(b.ID - a.ID) }) {
			t.Errorf("Approvals(%d, %d) = %d approvals, %v; want %d newest first", tc.stack, tc.limit, len(list), err, tc.want)
		}
	}
	if _, err := s.Approval(ctx, 999999); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Approval(unknown): err = %v, want ErrNotFound", err)
	}
	for _, st := range approval.Statuses() {
		if final := st != approval.Pending && st != approval.Applying; approval.Status(st).Final() != final {
			t.Errorf("ApprovalFinal(%s) = %v", st, !final)
		}
	}
	if approval.Status("done").Final() {
		t.Error("ApprovalFinal accepts an unknown status")
	}
}

// TestApprovalsKeepInputsOutOfErrors gives every function inputs that hold
// the secret and makes each fail: no error may echo them.
func TestApprovalsKeepInputsOutOfErrors(t *testing.T) {
	t.Parallel()
	s, ctx, stackID := storeWithShop(t)
	secretPlan := []byte(`{"env": {"POSTGRES_PASSWORD": "` + secretValue + `"}`) // truncated: invalid JSON
	calls := map[string]func() error{
		"invalid plan": func() error {
			_, err := s.CreateApproval(ctx, stackID, secretValue, secretPlan, secretValue, 0)
			return err
		},
		"blank token": func() error {
			_, err := s.CreateApproval(ctx, stackID, "", []byte(`{"p": "`+secretValue+`"}`), secretValue, 0)
			return err
		},
		"unknown stack": func() error {
			_, err := s.CreateApproval(ctx, 999999, secretValue, []byte(`{"p": "`+secretValue+`"}`), secretValue, 0)
			return err
		},
		"finish unknown": func() error { return s.FinishApproval(ctx, 999999, approval.Failed, secretValue, secretValue) },
		"result not encodable": func() error {
			a := claim(t, s, fileApproval(t, s, stackID, 0).StackID)
			defer func() { _ = s.FinishApproval(ctx, a.ID, approval.Failed, "Failed.", nil) }()
			return s.FinishApproval(ctx, a.ID, approval.Failed, secretValue, map[string]any{secretValue: func() {}})
		},
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		assertNoSecret(t, name+" error", err.Error())
	}
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver
