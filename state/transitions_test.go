package state_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/state"
)

// transitionConstraint is the name the trigger of migration 6 reports.
const transitionConstraint = "approvals_status_transition"

// TestTransitionTableMatchesDatabase: approval_statuses and
// approval_transitions hold exactly approval.Statuses() and
// approval.Transitions().
func TestTransitionTableMatchesDatabase(t *testing.T) {
	s := newStore(t)
	rows, _ := s.Pool().Query(testContext(t), `SELECT status FROM approval_statuses ORDER BY status`)
	statuses, err := pgx.CollectRows(rows, pgx.RowTo[approval.Status])
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(approval.Statuses())); !slices.Equal(statuses, want) {
		t.Errorf("approval_statuses = %v\nwant approval.Statuses() = %v", statuses, want)
	}
	rows, _ = s.Pool().Query(testContext(t), `SELECT from_status, to_status FROM approval_transitions`)
	db, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (approval.Transition, error) {
		var tr approval.Transition
		err := row.Scan(&tr.From, &tr.To)
		return tr, err
	})
	if err != nil {
		t.Fatal(err)
	}
	sortTransitions(db)
	want := approval.Transitions()
	sortTransitions(want)
	if !slices.Equal(db, want) {
		t.Errorf("approval_transitions = %v\nwant approval.Transitions() = %v", db, want)
	}
}

func sortTransitions(ts []approval.Transition) {
	slices.SortFunc(ts, func(a, b approval.Transition) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}

// pathTo is a shortest list of allowed transitions from pending to
// status (empty for pending).
func pathTo(t *testing.T, status approval.Status) []approval.Status {
	t.Helper()
	prev := map[approval.Status]approval.Status{}
	queue := []approval.Status{approval.Pending}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == status {
			var path []approval.Status
			for s := status; s != approval.Pending; s = prev[s] {
				path = append([]approval.Status{s}, path...)
			}
			return path
		}
		for _, tr := range approval.Transitions() {
			if _, seen := prev[tr.To]; tr.From == cur && !seen && tr.To != approval.Pending {
				prev[tr.To] = cur
				queue = append(queue, tr.To)
			}
		}
	}
	t.Fatalf("status %s cannot be reached from pending", status)
	return nil
}

// setStatus is a direct SQL UPDATE of approval id to status, setting the
// other columns so that every CHECK constraint holds: only the transition
// trigger can refuse it.
const setStatus = `UPDATE approvals SET status = $2,
	claimed_by = coalesce(claimed_by, 'replica'), started_at = coalesce(started_at, now()),
	finished_at = CASE WHEN $2 IN ('pending', 'applying') THEN NULL ELSE coalesce(finished_at, now()) END
	WHERE id = $1`

// tryTransition files an approval in a transaction, moves it along allowed
// transitions to from, then tries from → to with a direct UPDATE; the
// transaction is rolled back. It returns the error of the last UPDATE.
func tryTransition(ctx context.Context, t *testing.T, s *state.Store, from, to approval.Status) error {
	t.Helper()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var id int64
	err = tx.QueryRow(ctx, `WITH s AS (INSERT INTO stacks (name) VALUES ($1) RETURNING id)
		INSERT INTO approvals (stack_id, token, plan, requested_by) SELECT id, 'tok', '{}', 'tester' FROM s RETURNING id`,
		fmt.Sprintf("t-%s-%s", from, to)).Scan(&id)
	if err != nil {
		t.Fatalf("file approval: %v", err)
	}
	for _, step := range pathTo(t, from) {
		if _, err := tx.Exec(ctx, setStatus, id, step); err != nil {
			t.Fatalf("move approval to %s on the way to %s: %v", step, from, err)
		}
	}
	_, err = tx.Exec(ctx, setStatus, id, to)
	return err
}

// TestDatabaseRefusesTransitionsOutsideTheTable: for every pair of
// different statuses, a direct UPDATE is accepted exactly when
// approval.CanTransition allows it, and refused by the transition trigger
// otherwise.
func TestDatabaseRefusesTransitionsOutsideTheTable(t *testing.T) {
	s := newStore(t)
	ctx := testContext(t)
	allowed, refused := 0, 0
	for _, from := range approval.Statuses() {
		for _, to := range approval.Statuses() {
			if from == to {
				continue // keeping the status is no transition (MarkApprovalLocked, for one)
			}
			err := tryTransition(ctx, t, s, from, to)
			if approval.CanTransition(from, to) {
				allowed++
				if err != nil {
					t.Errorf("%s → %s is in the table but the database refused it: %v", from, to, err)
				}
				continue
			}
			refused++
			if code, constraint := pgCode(err); code != "23514" || constraint != transitionConstraint {
				t.Errorf("%s → %s is not in the table: err %v, want a check violation of %s", from, to, err, transitionConstraint)
			}
		}
	}
	if n := len(approval.Statuses()); allowed+refused != n*(n-1) || allowed != len(approval.Transitions()) {
		t.Errorf("tried %d allowed and %d refused pairs of %d statuses", allowed, refused, n)
	}
}

// TestDatabaseFilesPendingOnly: an approval inserted in any status but
// pending is refused.
func TestDatabaseFilesPendingOnly(t *testing.T) {
	s, ctx, stackID := storeWithShop(t)
	for _, st := range approval.Statuses() {
		_, err := s.Pool().Exec(ctx, `INSERT INTO approvals (stack_id, token, plan, requested_by, status, claimed_by, started_at, finished_at)
			VALUES ($1, 'tok', '{}', 'tester', $2, 'replica', now(), CASE WHEN $2 IN ('pending', 'applying') THEN NULL ELSE now() END)`, stackID, st)
		code, constraint := pgCode(err)
		switch {
		case st == approval.Pending && err != nil:
			t.Errorf("insert pending: %v", err)
		case st != approval.Pending && (code != "23514" || constraint != transitionConstraint):
			t.Errorf("insert %s: err %v, want a check violation of %s", st, err, transitionConstraint)
		}
	}
}

// TestStoreReportsRefusedTransition: should the database's table lack a
// transition the store makes, the store's error says so (ErrTransition),
// and nothing changed.
func TestStoreReportsRefusedTransition(t *testing.T) {
	s := newStore(t)
	ctx := testContext(t)
	a := fileApproval(t, s, newStackRow(t, s, "shop"), 0)
	if _, err := s.Pool().Exec(ctx, `DELETE FROM approval_transitions WHERE from_status = 'pending' AND to_status = 'cancelled'`); err != nil {
		t.Fatal(err)
	}
	_, err := s.CancelApproval(ctx, a.ID, "")
	if !errors.Is(err, state.ErrTransition) {
		t.Fatalf("CancelApproval with pending → cancelled missing: %v, want ErrTransition", err)
	}
	got, err := s.Approval(ctx, a.ID)
	if err != nil || got.Status != approval.Pending {
		t.Errorf("approval after the refused cancel: %s, %v; want pending", got.Status, err)
	}
}
