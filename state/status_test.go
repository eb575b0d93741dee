package state_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/state"
)

// statusRow is a stack_status row as stored.
type statusRow struct {
	condition, token, message string
	counts                    string
	lastReconcile, updatedAt  time.Time
}

// readStatus reads a stack's status row; ok is false when there is none.
func readStatus(t *testing.T, s *state.Store, stackID int64) (statusRow, bool) {
	t.Helper()
	var r statusRow
	err := s.Pool().QueryRow(testContext(t), `SELECT condition, counts::text, token, message, last_reconcile_at, updated_at
		FROM stack_status WHERE stack_id = $1`, stackID).Scan(&r.condition, &r.counts, &r.token, &r.message, &r.lastReconcile, &r.updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatalf("read status of stack %d: %v", stackID, err)
	}
	return r, true
}

func writeStatuses(t *testing.T, s *state.Store, statuses ...state.StackStatus) {
	t.Helper()
	if err := s.WriteStackStatuses(testContext(t), statuses); err != nil {
		t.Fatalf("WriteStackStatuses: %v", err)
	}
}

// TestWriteStackStatusesSteps writes one stack's status step by step; each
// step says whether the row's content and its timestamps must change.
func TestWriteStackStatusesSteps(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	stackID := newStackRow(t, s, "shop")
	t0 := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	status := func(cond string, counts map[string]int, token, msg string, at time.Time) state.StackStatus {
		return state.StackStatus{StackID: stackID, Stack: "ignored", Condition: cond, Counts: counts, Token: token, Message: msg, LastReconcile: at}
	}
	steps := []struct {
		name       string
		write      state.StackStatus
		wantWrite  bool   // updated_at and last_reconcile_at move
		wantCounts string // stored counts (jsonb text)
	}{
		{"insert", status("Drifted", map[string]int{"add": 1, "modify": 0}, "tok-1", "1 to add.", t0), true, `{"add": 1, "modify": 0}`},
		{"same content, later reconcile", status("Drifted", map[string]int{"modify": 0, "add": 1}, "tok-1", "1 to add.", t0.Add(time.Minute)), false, `{"add": 1, "modify": 0}`},
		{"counts change", status("Drifted", map[string]int{"add": 2, "modify": 0}, "tok-1", "2 to add.", t0.Add(2*time.Minute)), true, `{"add": 2, "modify": 0}`},
		{"token change", status("Drifted", map[string]int{"add": 2, "modify": 0}, "tok-2", "2 to add.", t0.Add(3*time.Minute)), true, `{"add": 2, "modify": 0}`},
		{"condition change", status("InSync", map[string]int{"add": 2, "modify": 0}, "tok-2", "2 to add.", t0.Add(4*time.Minute)), true, `{"add": 2, "modify": 0}`},
		{"nil counts", status("InSync", nil, "tok-2", "In sync.", t0.Add(5*time.Minute)), true, `{}`},
		{"nil counts again", status("InSync", map[string]int{}, "tok-2", "In sync.", t0.Add(6*time.Minute)), false, `{}`},
		{"text PostgreSQL refuses", status("Error", nil, "tok-2", "bad \x00 byte \xff", t0.Add(7*time.Minute)), true, `{}`},
	}
	var prev statusRow
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			writeStatuses(t, s, st.write)
			got, ok := readStatus(t, s, stackID)
			if !ok {
				t.Fatal("no status row")
			}
			wantMsg := strings.ToValidUTF8(strings.ReplaceAll(st.write.Message, "\x00", "\uFFFD"), "\uFFFD")
			if got.condition != st.write.Condition || got.token != st.write.Token || got.message != wantMsg || got.counts != st.wantCounts {
				t.Errorf("stored %+v, want %+v (counts %s)", got, st.write, st.wantCounts)
			}
			switch {
			case st.wantWrite && (!got.lastReconcile.Equal(st.write.LastReconcile) || (i > 0 && !got.updatedAt.After(prev.updatedAt))):
				t.Errorf("a real change left last_reconcile_at %v / updated_at %v (before %v)", got.lastReconcile, got.updatedAt, prev.updatedAt)
			case !st.wantWrite && (!got.lastReconcile.Equal(prev.lastReconcile) || !got.updatedAt.Equal(prev.updatedAt)):
				t.Errorf("an equal status moved last_reconcile_at %v → %v, updated_at %v → %v", prev.lastReconcile, got.lastReconcile, prev.updatedAt, got.updatedAt)
			}
			prev = got
		})
	}
	read, err := s.StackStatuses(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := read[stackID]; len(read) != 1 || got.Stack != "shop" || got.Condition != "Error" || got.Counts == nil || !got.LastReconcile.Equal(prev.lastReconcile) {
		t.Errorf("StackStatuses = %+v", read)
	}
}

// TestWriteStackStatusesWhileApplying: while an approval of the stack is
// applying only an Applying status is written, by insert or update.
func TestWriteStackStatusesWhileApplying(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	withRow, withoutRow := newStackRow(t, s, "with-row"), newStackRow(t, s, "without-row")
	writeStatuses(t, s, state.StackStatus{StackID: withRow, Condition: "Drifted", Token: "t", Message: "1 to add."})
	a1 := claim(t, s, fileApproval(t, s, withRow, 0).StackID)
	a2 := claim(t, s, fileApproval(t, s, withoutRow, 0).StackID)

	steps := []struct {
		name     string
		stackID  int64
		cond     string
		wantCond string // "" = no row
	}{
		{"other condition does not replace the row", withRow, "InSync", "Drifted"},
		{"other condition does not insert a row", withoutRow, "Error", ""},
		{"Applying replaces the row", withRow, state.ConditionApplying, state.ConditionApplying},
		{"Applying inserts a row", withoutRow, state.ConditionApplying, state.ConditionApplying},
		{"stale status does not replace Applying", withRow, "Drifted", state.ConditionApplying},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			writeStatuses(t, s, state.StackStatus{StackID: st.stackID, Condition: st.cond, Token: "t", Message: st.cond + "."})
			got, ok := readStatus(t, s, st.stackID)
			if got.condition != st.wantCond || ok != (st.wantCond != "") {
				t.Errorf("condition %q (row %v), want %q", got.condition, ok, st.wantCond)
			}
		})
	}
	for _, a := range []approval.Approval{a1, a2} {
		if err := s.FinishApproval(ctx, a.ID, approval.Succeeded, "Applied.", nil); err != nil {
			t.Fatal(err)
		}
	}
	writeStatuses(t, s, state.StackStatus{StackID: withRow, Condition: "InSync", Token: "t"},
		state.StackStatus{StackID: withoutRow, Condition: "InSync", Token: "t"})
	for _, id := range []int64{withRow, withoutRow} {
		if got, _ := readStatus(t, s, id); got.condition != "InSync" {
			t.Errorf("stack %d after the apply finished: condition %q, want InSync", id, got.condition)
		}
	}
}

// TestWriteStackStatusesBulk writes 1,000 statuses (plus ones to ignore) in
// one statement.
func TestWriteStackStatusesBulk(t *testing.T) {
	t.Parallel()
	counter := &queryCounter{} // read_test.go
	s := newStore(t, state.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }))
	ctx := testContext(t)
	rows, _ := s.Pool().Query(ctx, `INSERT INTO stacks (name) SELECT 'bulk-' || i FROM generate_series(1, 1001) i RETURNING id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	deleted := ids[1000]
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET deleted_at = now(), removed_at = now() WHERE id = $1`, deleted); err != nil {
		t.Fatal(err)
	}
	var statuses []state.StackStatus
	for i, id := range ids[:1000] {
		statuses = append(statuses, state.StackStatus{StackID: id, Condition: "InSync", Token: fmt.Sprint("tok-", i),
			Counts: map[string]int{"add": 0, "modify": 0, "remove": 0}})
	}
	statuses = append(statuses,
		state.StackStatus{StackID: deleted, Condition: "InSync"},                    // removed stack
		state.StackStatus{StackID: 999999999, Condition: "InSync"},                  // unknown stack
		state.StackStatus{StackID: ids[0], Condition: "Drifted", Token: "tok-last"}, // same stack again: last wins
	)
	before := time.Now()
	counter.n.Store(0)
	writeStatuses(t, s, statuses...)
	if n := counter.n.Load(); n != 1 {
		t.Errorf("WriteStackStatuses sent %d statements, want 1", n)
	}
	read, err := s.StackStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 1000 {
		t.Fatalf("StackStatuses returned %d statuses, want 1000", len(read))
	}
	if first := read[ids[0]]; first.Condition != "Drifted" || first.Token != "tok-last" || len(first.Counts) != 0 {
		t.Errorf("duplicate stack: stored %+v, want the last status", first)
	}
	if st := read[ids[999]]; st.Token != "tok-999" || st.Stack != "bulk-1000" || !maps.Equal(st.Counts, map[string]int{"add": 0, "modify": 0, "remove": 0}) ||
		st.LastReconcile.Before(before.Add(-time.Minute)) {
		t.Errorf("stored %+v; a zero LastReconcile must become now()", st)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM stack_status WHERE stack_id = ANY($1)`, []int64{deleted, 999999999}); n != 0 {
		t.Errorf("%d statuses written for removed or unknown stacks", n)
	}
	// A stack removed after its status was written is no longer listed.
	if _, err := s.Pool().Exec(ctx, `UPDATE stacks SET deleted_at = now(), removed_at = now() WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if read, err := s.StackStatuses(ctx); err != nil || len(read) != 999 {
		t.Errorf("after a delete: %d statuses, %v; want 999", len(read), err)
	}
	counter.n.Store(0)
	if err := s.WriteStackStatuses(ctx, nil); err != nil || counter.n.Load() != 0 {
		t.Errorf("writing no statuses: %v, %d statements", err, counter.n.Load())
	}
}

// TestWriteStackStatusesConcurrently has two writers update overlapping
// stacks given in opposite orders; rows are written in id order, so they
// never deadlock.
func TestWriteStackStatusesConcurrently(t *testing.T) {
	t.Parallel()
	_, stores := openStores(t, 2)
	ctx := testContext(t)
	rows, _ := stores[0].Pool().Query(ctx, `INSERT INTO stacks (name) SELECT 'c-' || i FROM generate_series(1, 200) i RETURNING id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Go(func() {
			for round := range 20 {
				statuses := make([]state.StackStatus, len(ids))
				for i, id := range ids {
					j := i
					if w == 1 {
						j = len(ids) - 1 - i // opposite order
					}
					statuses[j] = state.StackStatus{StackID: id, Condition: "Drifted", Token: fmt.Sprintf("w%d-r%d", w, round)}
				}
				if errs[w] = s.WriteStackStatuses(ctx, statuses); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
}
