package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/devarch/devarch-controller/approval"
)

var (
	// ErrNotPending says an approval can no longer be cancelled: it was
	// claimed or already reached a final status.
	ErrNotPending = errors.New("approval is not pending")
	// ErrNotApplying says an approval is not (or no longer) applying, so
	// its lock cannot be recorded, it cannot be finished, or (never
	// claimed) it has no progress events.
	ErrNotApplying = errors.New("approval is not applying")
	// ErrTransition says the database refused a status change that
	// approval.Transitions does not list (or a new approval that is not
	// pending): the trigger of migration 6.
	ErrTransition = errors.New("the approval's status cannot change that way")
)

// transitionConstraint names the check violation the trigger of migration
// 6 raises for a status change outside approval_transitions.
const transitionConstraint = "approvals_status_transition"

// refusedTransition wraps err with ErrTransition when it is the database
// refusing a status change, keeping the database's message (ids and
// statuses only).
func refusedTransition(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23514" && pe.ConstraintName == transitionConstraint {
		return fmt.Errorf("%w: %s", ErrTransition, pe.Message)
	}
	return err
}

// approvalColumns reads an approval "a" joined with its stack "s".
const approvalColumns = `a.id, a.stack_id, s.name, a.token, a.plan, a.requested_by, a.status, a.message,
	coalesce(a.result, 'null'::jsonb), coalesce(a.claimed_by, ''), coalesce(a.lock_pid, 0),
	a.created_at, a.updated_at, a.started_at, a.finished_at, a.expires_at`

func scanApproval(row pgx.CollectableRow) (approval.Approval, error) {
	var a approval.Approval
	var plan, result []byte
	err := row.Scan(&a.ID, &a.StackID, &a.Stack, &a.Token, &plan, &a.RequestedBy, &a.Status, &a.Message,
		&result, &a.ClaimedBy, &a.LockPID, &a.CreatedAt, &a.UpdatedAt, &a.StartedAt, &a.FinishedAt, &a.ExpiresAt)
	a.Plan, a.Result = plan, result
	return a, err
}

// collectApproval reads the one approval rows may hold: nil when none.
func collectApproval(rows pgx.Rows) (*approval.Approval, error) {
	a, err := pgx.CollectExactlyOneRow(rows, scanApproval)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateApproval records a pending approval of a plan (already redacted,
// JSON) for a live stack (callers file through package approval/filing,
// which checks the request first); ErrNotFound (wrapped) when the stack
// does not exist or was deleted. It expires ttl after the database's
// now(); ttl <= 0: never.
// The stack row is share-locked while filing, so a concurrent delete of the
// stack either waits for the approval or makes this call ErrNotFound.
// Errors never echo the plan, token or requester.
func (s *Store) CreateApproval(ctx context.Context, stackID int64, token string, plan []byte, requestedBy string, ttl time.Duration) (approval.Approval, error) {
	switch {
	case strings.TrimSpace(token) == "":
		return approval.Approval{}, fmt.Errorf("create approval of stack %d: the staleness token is empty; generate a plan first", stackID)
	case len(bytes.TrimSpace(plan)) == 0 || !json.Valid(plan):
		return approval.Approval{}, fmt.Errorf("create approval of stack %d: the plan is not valid JSON", stackID)
	}
	var ttlMicros int64
	if ttl > 0 {
		ttlMicros = max(ttl.Microseconds(), 1)
	}
	rows, _ := s.pool.Query(ctx, `WITH s AS (
			SELECT id, name FROM stacks WHERE id = $1 AND removed_at IS NULL FOR SHARE),
		a AS (
			INSERT INTO approvals (stack_id, token, plan, requested_by, expires_at)
			SELECT id, $2, $3, $4, CASE WHEN $5::bigint > 0 THEN now() + $5::bigint * interval '1 microsecond' END FROM s
			RETURNING *)
		SELECT `+approvalColumns+` FROM a JOIN s ON s.id = a.stack_id`,
		stackID, token, storableJSON(plan), cleanText(requestedBy), ttlMicros)
	a, err := collectApproval(rows)
	switch {
	case err != nil:
		return approval.Approval{}, fmt.Errorf("create approval of stack %d: %w", stackID, err)
	case a == nil:
		return approval.Approval{}, fmt.Errorf("create approval: stack %d %w", stackID, ErrNotFound)
	}
	return *a, nil
}

// Approval returns one approval (ErrNotFound, wrapped, when there is none).
func (s *Store) Approval(ctx context.Context, id int64) (approval.Approval, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+approvalColumns+` FROM approvals a JOIN stacks s ON s.id = a.stack_id WHERE a.id = $1`, id)
	a, err := collectApproval(rows)
	switch {
	case err != nil:
		return approval.Approval{}, fmt.Errorf("read approval %d: %w", id, err)
	case a == nil:
		return approval.Approval{}, fmt.Errorf("approval %d %w", id, ErrNotFound)
	}
	return *a, nil
}

// Approvals lists approvals, newest first, of one stack (by id; 0 = all
// stacks, deleted ones included), at most limit of them (limit <= 0: all).
func (s *Store) Approvals(ctx context.Context, stackID int64, limit int) ([]approval.Approval, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+approvalColumns+` FROM approvals a JOIN stacks s ON s.id = a.stack_id
		WHERE $1::bigint = 0 OR a.stack_id = $1 ORDER BY a.id DESC LIMIT $2::bigint`, stackID, lim)
	out, err := pgx.CollectRows(rows, scanApproval)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// CancelApproval moves a pending approval to cancelled with message (a
// full sentence for the user; "" writes a default one). It returns
// ErrNotPending (wrapped) when the approval was claimed or is final, and
// ErrNotFound when it does not exist. A claim running at the same moment
// wins or loses as a whole: the cancel waits for it and then sees the
// approval applying.
func (s *Store) CancelApproval(ctx context.Context, id int64, message string) (approval.Approval, error) {
	if message = cleanText(message); strings.TrimSpace(message) == "" {
		message = approval.MessageCancelled
	}
	rows, _ := s.pool.Query(ctx, `UPDATE approvals a SET status = 'cancelled', message = $2, finished_at = now()
		FROM stacks s WHERE s.id = a.stack_id AND a.id = $1 AND a.status = 'pending'
		RETURNING `+approvalColumns, id, message)
	a, err := collectApproval(rows)
	switch {
	case err != nil:
		return approval.Approval{}, fmt.Errorf("cancel approval %d: %w", id, refusedTransition(err))
	case a != nil:
		return *a, nil
	}
	cur, err := s.Approval(ctx, id)
	if err != nil {
		return approval.Approval{}, fmt.Errorf("cancel approval: %w", err)
	}
	return cur, fmt.Errorf("cancel approval %d: it is %s: %w", id, cur.Status, ErrNotPending)
}

// oneApplyingIndex is migration 3's unique index: at most one applying
// approval per stack.
const oneApplyingIndex = "approvals_one_applying_per_stack"

// ClaimApproval moves the oldest (lowest id) pending, unexpired approval of
// a stack to applying on behalf of replica and returns it; nil when there
// is nothing to claim. Guarantees, across any number of replicas:
//
//   - Exactly one replica wins each approval.
//   - Claims of one stack are serialized without waiting: the first
//     statement locks the stack row FOR NO KEY UPDATE SKIP LOCKED, and a
//     replica that finds it locked (another claim, an import or edit of the
//     stack, an approval being filed) returns nil at once. NO KEY UPDATE
//     rather than UPDATE so that foreign-key checks of rows referencing the
//     stack (statuses, approvals) do not make claims skip.
//   - Nothing is claimed while another approval of the stack is applying.
//     The check runs in a second statement, so under READ COMMITTED its
//     snapshot is taken after the stack lock was granted and sees every
//     earlier claim of the stack committed. The unique index
//     approvals_one_applying_per_stack is the hard guarantee; a violation
//     of it is reported as nothing claimed.
//   - A pending approval that another statement is changing at that very
//     moment (being cancelled or expired) is skipped, not waited for.
//
// Approvals of a stack deleted after they were filed are still claimed, so
// that the loop finishes them (as stale) instead of leaving them pending.
func (s *Store) ClaimApproval(ctx context.Context, stackID int64, replica string) (*approval.Approval, error) {
	if strings.TrimSpace(replica) == "" {
		return nil, fmt.Errorf("claim approval of stack %d: the replica identity is empty", stackID)
	}
	var claimed *approval.Approval
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM stacks WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED`, stackID)
		if n, err := pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || len(n) == 0 {
			return err // no row: another replica is claiming for this stack right now, or it does not exist
		}
		rows, _ = tx.Query(ctx, `UPDATE approvals a SET status = 'applying', claimed_by = $2, started_at = now()
			FROM stacks s
			WHERE s.id = a.stack_id AND a.status = 'pending' AND a.id = (
				SELECT p.id FROM approvals p
				WHERE p.stack_id = $1 AND p.status = 'pending'
				  AND (p.expires_at IS NULL OR p.expires_at > now())
				  AND NOT EXISTS (SELECT 1 FROM approvals x WHERE x.stack_id = $1 AND x.status = 'applying')
				ORDER BY p.id LIMIT 1
				FOR NO KEY UPDATE SKIP LOCKED)
			RETURNING `+approvalColumns, stackID, cleanText(replica))
		var err error
		claimed, err = collectApproval(rows)
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == oneApplyingIndex {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim approval of stack %d: %w", stackID, refusedTransition(err))
	}
	return claimed, nil
}

// HasPendingApproval reports whether stack stackID has a pending approval
// that has not expired: what ClaimApproval would look for. The loop asks
// before it takes the stack's lock, so that a stack with nothing to apply
// costs one query and no lock.
func (s *Store) HasPendingApproval(ctx context.Context, stackID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approvals
		WHERE stack_id = $1 AND status = 'pending' AND (expires_at IS NULL OR expires_at > now()))`, stackID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for pending approvals of stack %d: %w", stackID, err)
	}
	return ok, nil
}

// MarkApprovalLocked records pid, the backend pid of the session holding
// the stack's advisory lock (lock.Lease.BackendPID), on an applying
// approval: from then on InterruptOrphanedApprovals checks that this
// session still holds the lock. It returns ErrNotApplying (wrapped) when
// the approval is no longer applying, for example because the sweep
// already called it interrupted: the caller must then not apply.
func (s *Store) MarkApprovalLocked(ctx context.Context, id int64, pid int32) error {
	if pid <= 0 {
		return fmt.Errorf("record lock of approval %d: backend pid %d is not positive", id, pid)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET lock_pid = $2 WHERE id = $1 AND status = 'applying'`, id, pid)
	if err != nil {
		return fmt.Errorf("record lock of approval %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return s.wrongStatus(ctx, "record lock of", id, ErrNotApplying)
	}
	return nil
}

// FinishApproval moves an applying approval to an outcome — succeeded,
// failed, stale, conflict or interrupted — with a message for the user (a
// full sentence) and a result stored as JSON (nil: none; a json.RawMessage
// is stored as is; it must hold no secret). It returns ErrNotApplying
// (wrapped) when the approval is not applying, ErrNotFound when it does not
// exist. Finish before releasing the stack's lock: once the lock is gone
// the sweep may call the approval interrupted.
func (s *Store) FinishApproval(ctx context.Context, id int64, status approval.Status, message string, result any) error {
	return s.finishApproval(ctx, s.pool, id, status, message, result)
}

// FinishApprovalTx is FinishApproval inside tx: the reconcile loop records
// an outcome in the same transaction that releases the stack's lock
// (lock.Lease.Release), so that nobody sees a finished approval while its
// lock is still held.
func (s *Store) FinishApprovalTx(ctx context.Context, tx pgx.Tx, id int64, status approval.Status, message string, result any) error {
	return s.finishApproval(ctx, tx, id, status, message, result)
}

// execer runs a statement: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) finishApproval(ctx context.Context, db execer, id int64, status approval.Status, message string, result any) error {
	if !approval.CanTransition(approval.Applying, status) {
		outcomes := make([]string, 0, len(approval.Outcomes()))
		for _, o := range approval.Outcomes() {
			outcomes = append(outcomes, string(o))
		}
		return fmt.Errorf("finish approval %d: the status is not an outcome of an apply; use one of %s",
			id, strings.Join(outcomes, ", "))
	}
	var body []byte
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("encode result of approval %d: %w", id, err)
		}
		body = storableJSON(b)
	}
	tag, err := db.Exec(ctx, `UPDATE approvals SET status = $2, message = $3, result = $4, finished_at = now()
		WHERE id = $1 AND status = 'applying'`, id, status, cleanText(message), body)
	if err != nil {
		return fmt.Errorf("finish approval %d: %w", id, refusedTransition(err))
	}
	if tag.RowsAffected() == 0 {
		return s.wrongStatus(ctx, "finish", id, ErrNotApplying)
	}
	return nil
}

// wrongStatus explains why a status-guarded update of approval id touched
// no row: ErrNotFound, or sentinel with the approval's current status.
func (s *Store) wrongStatus(ctx context.Context, verb string, id int64, sentinel error) error {
	a, err := s.Approval(ctx, id)
	if err != nil {
		return fmt.Errorf("%s approval: %w", verb, err)
	}
	return fmt.Errorf("%s approval %d: it is %s: %w", verb, id, a.Status, sentinel)
}

// AppendApprovalEvents appends progress events to a claimed approval (one
// that is or was applying), numbering them after the last one: seq 1, 2, 3,
// ... without gaps, in the order given. Appends to one approval from
// several goroutines or replicas are safe: each runs in a transaction that
// first locks the approval row FOR NO KEY UPDATE, so the next append waits
// for this one to commit and then numbers after it. Each event announces
// itself on ChannelApprovalEvents at commit. Text that PostgreSQL cannot
// store (NUL, invalid UTF-8) is replaced by U+FFFD. It returns
// ErrNotApplying (wrapped) for an approval never claimed.
func (s *Store) AppendApprovalEvents(ctx context.Context, id int64, events []approval.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	ats := make([]*time.Time, n)
	containers, actions, statuses, messages := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range events {
		if !e.At.IsZero() {
			ats[i] = &e.At
		}
		containers[i], actions[i], statuses[i], messages[i] = cleanText(e.Container), cleanText(e.Action), cleanText(e.Status), cleanText(e.Message)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT started_at IS NOT NULL FROM approvals WHERE id = $1 FOR NO KEY UPDATE`, id)
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[bool])
		switch {
		case err != nil:
			return err
		case len(claimed) == 0:
			return fmt.Errorf("approval %d %w", id, ErrNotFound)
		case !claimed[0]:
			return fmt.Errorf("approval %d was never claimed: %w", id, ErrNotApplying)
		}
		_, err = tx.Exec(ctx, `INSERT INTO approval_events (approval_id, seq, at, container, action, status, message)
			SELECT $1, last.seq + u.ord, coalesce(u.at, now()), u.container, u.action, u.status, u.message
			FROM (SELECT coalesce(max(seq), 0) AS seq FROM approval_events WHERE approval_id = $1) AS last,
			     unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])
			         WITH ORDINALITY AS u(at, container, action, status, message, ord)
			ORDER BY u.ord`, id, ats, containers, actions, statuses, messages)
		return err
	})
	if err != nil {
		return fmt.Errorf("append events of approval %d: %w", id, err)
	}
	return nil
}

// ApprovalEvents returns an approval's events with seq > after, in seq
// order (none for an unknown approval). To follow an apply, call it again
// with the last seq received when ChannelApprovalEvents announces more.
func (s *Store) ApprovalEvents(ctx context.Context, id int64, after int) ([]approval.Event, error) {
	rows, _ := s.pool.Query(ctx, `SELECT approval_id, seq, at, container, action, status, message
		FROM approval_events WHERE approval_id = $1 AND seq > $2 ORDER BY seq`, id, after)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[approval.Event])
	if err != nil {
		return nil, fmt.Errorf("read events of approval %d: %w", id, err)
	}
	return out, nil
}

// ExpireApprovals moves every pending approval whose expires_at has passed
// to expired (with a message saying what to do) and returns how many. An
// approval being claimed at that moment is left to the claim.
func (s *Store) ExpireApprovals(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET status = 'expired', finished_at = now(), message = $1
		WHERE status = 'pending' AND expires_at <= now()`, approval.MessageExpired)
	if err != nil {
		return 0, fmt.Errorf("expire approvals: %w", refusedTransition(err))
	}
	return tag.RowsAffected(), nil
}

// InterruptOrphanedApprovals moves to interrupted (with a message saying
// that the controller was lost during the apply, and what to do) every
// applying approval whose controller is gone, and returns their stacks' ids
// (one per approval):
//
//   - with a lock_pid: that session no longer holds the stack's two-key
//     advisory lock in this database (pg_locks: classid = namespace as an
//     unsigned oid, objid = stack id, objsubid = 2, granted);
//   - without one: claimed more than grace ago (grace must be positive).
//
// namespace is lock.Namespace.
func (s *Store) InterruptOrphanedApprovals(ctx context.Context, namespace int32, grace time.Duration) ([]int64, error) {
	if grace <= 0 {
		return nil, fmt.Errorf("interrupt orphaned approvals: grace %v is not positive", grace)
	}
	rows, _ := s.pool.Query(ctx, `UPDATE approvals a SET status = 'interrupted', finished_at = now(), message = $3
		WHERE a.status = 'applying' AND (
			(a.lock_pid IS NULL AND a.started_at < now() - $2::bigint * interval '1 microsecond')
			OR (a.lock_pid IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
				  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				  AND l.classid::int8 = $1 AND l.objid::int8 = a.stack_id AND l.pid = a.lock_pid)))
		RETURNING a.stack_id`,
		int64(uint32(namespace)), max(grace.Microseconds(), 1), approval.MessageInterrupted)
	stacks, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("interrupt orphaned approvals: %w", refusedTransition(err))
	}
	return stacks, nil
}

// ActiveApprovalStacks returns, in id order, the ids of stacks with a
// claimable (pending, unexpired) approval and of stacks with an approval
// applying. A stack may be in both.
func (s *Store) ActiveApprovalStacks(ctx context.Context) (pending, applying []int64, err error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT stack_id, status FROM approvals
		WHERE status = 'applying' OR (status = 'pending' AND (expires_at IS NULL OR expires_at > now()))
		ORDER BY stack_id`)
	var id int64
	var status approval.Status
	_, err = pgx.ForEachRow(rows, []any{&id, &status}, func() error {
		if status == approval.Pending {
			pending = append(pending, id)
		} else {
			applying = append(applying, id)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list stacks with active approvals: %w", err)
	}
	return pending, applying, nil
}

// ApprovalCounts counts approvals per status; every status is present,
// zeros included.
func (s *Store) ApprovalCounts(ctx context.Context) (map[string]int, error) {
	counts := make(map[string]int, len(approval.Statuses()))
	for _, st := range approval.Statuses() {
		counts[string(st)] = 0
	}
	rows, _ := s.pool.Query(ctx, `SELECT status, count(*) FROM approvals GROUP BY status`)
	var status string
	var n int
	_, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		counts[status] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count approvals: %w", err)
	}
	return counts, nil
}

// cleanText makes s storable as PostgreSQL text: invalid UTF-8 and NUL
// become U+FFFD. The text itself is never put in an error.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storableJSON rewrites the escape \u0000, which jsonb refuses, as \ufffd.
// b must be valid JSON (json.Marshal output, or checked with json.Valid).
func storableJSON(b []byte) []byte {
	const nul = `\u0000`
	if !bytes.Contains(b, []byte(nul)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] != '\\' || i+1 == len(b):
			out = append(out, b[i])
		case bytes.HasPrefix(b[i:], []byte(nul)):
			out = append(out, `\ufffd`...)
			i += len(nul) - 1
		default: // any other escape: copy it whole, so `\\u0000` stays text
			out = append(out, b[i], b[i+1])
			i++
		}
	}
	return out
}
