// Package statetest fills a migrated database with many stacks quickly,
// for benchmarks and scale tests of the store and the API.
package statetest

import (
	"context"
	"fmt"

	"github.com/devarch/devarch-controller/state"
)

// Fill inserts stacks live stacks named prefix + a zero-padded number
// (prefix-00001 …), each with perStack enabled instances (svc-1 …) that
// carry a full spec (image devarch-test/sleeper:latest, no template), and a
// status row InSync for every other stack (the rest have none yet, as
// stacks the loop has not planned). It runs three set-based statements
// through the store's pool in one transaction: 10,000 stacks × 5 instances
// take about a second. Revisions are not recorded (the stacks have no
// history). prefix must be a valid stack name prefix (lower case, digits,
// '-').
func Fill(ctx context.Context, s *state.Store, prefix string, stacks, perStack int) error {
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("fill stacks: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `
		INSERT INTO stacks (name, description)
		SELECT $1 || lpad(g::text, 5, '0'), 'fixture stack ' || g
		FROM generate_series(1, $2::int) g`, prefix+"-", stacks); err != nil {
		return fmt.Errorf("fill stacks: insert stacks: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO instances (stack_id, name, overrides)
		SELECT s.id, 'svc-' || k, jsonb_build_object('image', 'devarch-test/sleeper:latest', 'command', jsonb_build_array('sleep', k::text))
		FROM stacks s CROSS JOIN generate_series(1, $2::int) k
		WHERE s.deleted_at IS NULL AND starts_with(s.name, $1)`, prefix+"-", perStack); err != nil {
		return fmt.Errorf("fill stacks: insert instances: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO stack_status (stack_id, condition, counts, token, message, last_reconcile_at)
		SELECT s.id, 'InSync', jsonb_build_object('add', 0, 'modify', 0, 'remove', 0), 'fixture', '', now()
		FROM stacks s
		WHERE s.deleted_at IS NULL AND starts_with(s.name, $1) AND s.id % 2 = 0`, prefix+"-"); err != nil {
		return fmt.Errorf("fill stacks: insert statuses: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE stacks, instances, stack_status`); err != nil {
		return fmt.Errorf("fill stacks: analyze: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("fill stacks: %w", err)
	}
	return nil
}

// FillHistory gives every live stack named prefix-… (see Fill) perStack
// finished approvals (succeeded, each with events progress events), as a
// controller that applied them would have left them: the approval history
// a long-running installation carries. Three set-based statements per
// table, through the store's pool, in one transaction.
func FillHistory(ctx context.Context, s *state.Store, prefix string, perStack, events int) error {
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("fill approvals: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	type step struct {
		what string
		sql  string
		args []any
	}
	steps := []step{{"insert approvals", `
		INSERT INTO approvals (stack_id, token, plan, requested_by, created_at, expires_at)
		SELECT s.id, 'fixture-' || k, '{"changes":[]}', 'fixture', now() - k * interval '1 hour', now() - k * interval '1 hour' + interval '15 minutes'
		FROM stacks s CROSS JOIN generate_series(1, $2::int) k
		WHERE s.deleted_at IS NULL AND starts_with(s.name, $1)`, []any{prefix + "-", perStack}}}
	// One approval per stack applies at a time: claim and finish the
	// k-th of every stack together.
	for k := 1; k <= perStack; k++ {
		token := fmt.Sprintf("fixture-%d", k)
		steps = append(steps,
			step{"claim approvals", `
				UPDATE approvals a SET status = 'applying', claimed_by = 'fixture', started_at = a.created_at
				FROM stacks s WHERE s.id = a.stack_id AND starts_with(s.name, $1) AND a.token = $2 AND a.status = 'pending'`, []any{prefix + "-", token}},
			step{"finish approvals", `
				UPDATE approvals a SET status = 'succeeded', finished_at = a.created_at + interval '1 minute', message = 'Applied.'
				FROM stacks s WHERE s.id = a.stack_id AND starts_with(s.name, $1) AND a.token = $2 AND a.status = 'applying'`, []any{prefix + "-", token}})
	}
	steps = append(steps,
		step{"insert events", `
			INSERT INTO approval_events (approval_id, seq, at, container, action, status, message)
			SELECT a.id, e, a.created_at, 'svc-' || e, 'started', 'done', ''
			FROM approvals a JOIN stacks s ON s.id = a.stack_id CROSS JOIN generate_series(1, $2::int) e
			WHERE starts_with(s.name, $1) AND a.requested_by = 'fixture'`, []any{prefix + "-", events}},
		step{"analyze", `ANALYZE approvals, approval_events`, nil})
	for _, q := range steps {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("fill approvals: %s: %w", q.what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("fill approvals: %w", err)
	}
	return nil
}
