package state

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConditionApplying is the stack status condition that an applying
// approval's controller writes; while an approval of a stack is applying,
// WriteStackStatuses writes no other condition for that stack. It is the
// same word as reconcile.Applying.
const ConditionApplying = "Applying"

// StackStatus is the reconcile loop's view of one stack (table
// stack_status). Counts are the plan's change counts per action.
type StackStatus struct {
	StackID   int64          `json:"stack_id"`
	Stack     string         `json:"stack"`
	Condition string         `json:"condition"`
	Counts    map[string]int `json:"counts"`
	Token     string         `json:"token"`
	Message   string         `json:"message"`
	// Engine is the engine the stack runs on, for metrics (not stored).
	Engine string `json:"-"`
	// LastReconcile is when the status was computed (zero on write: the
	// database's now(); zero on read: never written).
	LastReconcile time.Time `json:"last_reconcile"`
}

// WriteStackStatuses upserts statuses in one statement, whatever their
// number. Rules, per status:
//
//   - A status of an unknown or deleted stack is ignored. Stack is not
//     written (the name comes from the stack row on read).
//   - A status whose content (condition, counts, token, message) equals the
//     stored one writes nothing: updated_at and last_reconcile_at stay.
//   - While an approval of the stack is applying, only a ConditionApplying
//     status is written, so replicas that are not applying cannot overwrite
//     what the applying one shows.
//   - When a stack appears twice, the last status wins.
//
// Rows are written in stack id order, so concurrent writers of overlapping
// stacks cannot deadlock. Text that PostgreSQL cannot store (NUL, invalid
// UTF-8) is replaced by U+FFFD.
func (s *Store) WriteStackStatuses(ctx context.Context, statuses []StackStatus) error {
	if len(statuses) == 0 {
		return nil
	}
	byID := make(map[int64]StackStatus, len(statuses))
	for _, st := range statuses {
		byID[st.StackID] = st
	}
	sorted := slices.SortedFunc(maps.Values(byID), func(a, b StackStatus) int { return cmp.Compare(a.StackID, b.StackID) })

	n := len(sorted)
	ids, ats := make([]int64, n), make([]*time.Time, n)
	conds, counts, tokens, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, st := range sorted {
		b := []byte("{}")
		if st.Counts != nil {
			var err error
			if b, err = json.Marshal(st.Counts); err != nil {
				return fmt.Errorf("encode counts of stack %d: %w", st.StackID, err)
			}
		}
		if !st.LastReconcile.IsZero() {
			ats[i] = &st.LastReconcile
		}
		ids[i], conds[i], counts[i] = st.StackID, cleanText(st.Condition), string(b)
		tokens[i], msgs[i] = cleanText(st.Token), cleanText(st.Message)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO stack_status (stack_id, condition, counts, token, message, last_reconcile_at)
		SELECT u.id, u.cond, u.counts::jsonb, u.token, u.msg, coalesce(u.at, now())
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
		         AS u(id, cond, counts, token, msg, at)
		JOIN stacks s ON s.id = u.id AND s.removed_at IS NULL
		WHERE u.cond = $7 OR NOT EXISTS (
			SELECT 1 FROM approvals a WHERE a.stack_id = u.id AND a.status = 'applying')
		ORDER BY u.id
		ON CONFLICT (stack_id) DO UPDATE SET condition = EXCLUDED.condition, counts = EXCLUDED.counts,
			token = EXCLUDED.token, message = EXCLUDED.message, last_reconcile_at = EXCLUDED.last_reconcile_at
		WHERE (stack_status.condition, stack_status.counts, stack_status.token, stack_status.message)
			IS DISTINCT FROM (EXCLUDED.condition, EXCLUDED.counts, EXCLUDED.token, EXCLUDED.message)`,
		ids, conds, counts, tokens, msgs, ats, ConditionApplying)
	if err != nil {
		return fmt.Errorf("write %d stack statuses: %w", n, err)
	}
	return nil
}

// StackStatuses returns the stored status of every live stack that has
// one, by stack id. Counts is never nil.
func (s *Store) StackStatuses(ctx context.Context) (map[int64]StackStatus, error) {
	rows, _ := s.pool.Query(ctx, `SELECT st.stack_id, s.name, st.condition, st.counts, st.token, st.message,
		st.last_reconcile_at
		FROM stack_status st JOIN stacks s ON s.id = st.stack_id WHERE s.removed_at IS NULL`)
	out := map[int64]StackStatus{}
	var st StackStatus
	var counts []byte
	var at *time.Time
	_, err := pgx.ForEachRow(rows, []any{&st.StackID, &st.Stack, &st.Condition, &counts, &st.Token, &st.Message, &at}, func() error {
		c := map[string]int{}
		if err := json.Unmarshal(counts, &c); err != nil {
			return fmt.Errorf("decode counts of stack %d: %w", st.StackID, err)
		}
		st.Counts, st.LastReconcile = c, time.Time{}
		if at != nil {
			st.LastReconcile = *at
		}
		out[st.StackID] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stack statuses: %w", err)
	}
	return out, nil
}
