package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StackStatus is the reconcile loop's view of one stack (table
// stack_status). Counts are the plan's change counts per action.
type StackStatus struct {
	StackID       int64          `json:"stack_id"`
	Stack         string         `json:"stack"`
	Condition     string         `json:"condition"`
	Counts        map[string]int `json:"counts"`
	Token         string         `json:"token"`
	Message       string         `json:"message"`
	LastReconcile time.Time      `json:"last_reconcile"`
}

// WriteStackStatuses upserts statuses in one statement. Callers write only
// statuses that changed; a row whose content is equal is not updated. While
// an approval of a stack is applying, only an "Applying" status replaces
// that stack's row, so replicas that are not applying cannot overwrite it.
func (s *Store) WriteStackStatuses(ctx context.Context, statuses []StackStatus) error {
	if len(statuses) == 0 {
		return nil
	}
	ids := make([]int64, len(statuses))
	conds := make([]string, len(statuses))
	counts := make([]string, len(statuses))
	tokens := make([]string, len(statuses))
	msgs := make([]string, len(statuses))
	ats := make([]time.Time, len(statuses))
	for i, st := range statuses {
		b, err := json.Marshal(st.Counts)
		if err != nil {
			return fmt.Errorf("encode status counts: %w", err)
		}
		if st.Counts == nil {
			b = []byte("{}")
		}
		ids[i], conds[i], counts[i], tokens[i], msgs[i], ats[i] = st.StackID, st.Condition, string(b), st.Token, st.Message, st.LastReconcile
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO stack_status (stack_id, condition, counts, token, message, last_reconcile_at)
		SELECT u.id, u.cond, u.counts::jsonb, u.token, u.msg, u.at
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS u(id, cond, counts, token, msg, at)
		JOIN stacks s ON s.id = u.id
		ON CONFLICT (stack_id) DO UPDATE SET condition = EXCLUDED.condition, counts = EXCLUDED.counts,
			token = EXCLUDED.token, message = EXCLUDED.message, last_reconcile_at = EXCLUDED.last_reconcile_at
		WHERE (stack_status.condition, stack_status.counts, stack_status.token, stack_status.message)
			IS DISTINCT FROM (EXCLUDED.condition, EXCLUDED.counts, EXCLUDED.token, EXCLUDED.message)
		  AND (EXCLUDED.condition = 'Applying' OR NOT EXISTS (
			SELECT 1 FROM approvals a WHERE a.stack_id = EXCLUDED.stack_id AND a.status = 'applying'))`,
		ids, conds, counts, tokens, msgs, ats)
	if err != nil {
		return fmt.Errorf("write %d stack statuses: %w", len(statuses), err)
	}
	return nil
}

// StackStatuses returns the stored status of every live stack that has
// one, by stack id.
func (s *Store) StackStatuses(ctx context.Context) (map[int64]StackStatus, error) {
	rows, _ := s.pool.Query(ctx, `SELECT st.stack_id, s.name, st.condition, st.counts, st.token, st.message,
		coalesce(st.last_reconcile_at, 'epoch'::timestamptz)
		FROM stack_status st JOIN stacks s ON s.id = st.stack_id WHERE s.deleted_at IS NULL`)
	out := map[int64]StackStatus{}
	var st StackStatus
	var counts []byte
	_, err := pgx.ForEachRow(rows, []any{&st.StackID, &st.Stack, &st.Condition, &counts, &st.Token, &st.Message, &st.LastReconcile}, func() error {
		c := map[string]int{}
		if err := json.Unmarshal(counts, &c); err != nil {
			return fmt.Errorf("decode counts of stack %d: %w", st.StackID, err)
		}
		st.Counts = c
		out[st.StackID] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stack statuses: %w", err)
	}
	return out, nil
}
