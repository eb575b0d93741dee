package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Approval statuses. pending → applying → one of the final ones; a pending
// approval may also become expired or cancelled.
const (
	ApprovalPending     = "pending"
	ApprovalApplying    = "applying"
	ApprovalSucceeded   = "succeeded"
	ApprovalFailed      = "failed"
	ApprovalStale       = "stale"
	ApprovalConflict    = "conflict"
	ApprovalInterrupted = "interrupted"
	ApprovalExpired     = "expired"
	ApprovalCancelled   = "cancelled"
)

// ApprovalStatuses lists every status, in lifecycle order.
var ApprovalStatuses = []string{ApprovalPending, ApprovalApplying, ApprovalSucceeded, ApprovalFailed,
	ApprovalStale, ApprovalConflict, ApprovalInterrupted, ApprovalExpired, ApprovalCancelled}

// ApprovalFinal reports whether a status is final.
func ApprovalFinal(status string) bool {
	return status != ApprovalPending && status != ApprovalApplying
}

// ErrNotPending says an approval can no longer be cancelled or claimed.
var ErrNotPending = errors.New("approval is not pending")

// Approval is a user's go-ahead to apply one plan to one stack. Plan is the
// redacted plan the user saw; Result holds what the apply did (redacted).
type Approval struct {
	ID          int64           `json:"id"`
	StackID     int64           `json:"stack_id"`
	Stack       string          `json:"stack"`
	Token       string          `json:"token"`
	Plan        json.RawMessage `json:"plan"`
	RequestedBy string          `json:"requested_by"`
	Status      string          `json:"status"`
	Message     string          `json:"message"`
	Result      json.RawMessage `json:"result"`
	ClaimedBy   string          `json:"claimed_by,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	ExpiresAt   *time.Time      `json:"expires_at"`
}

// Duration is how long the apply took, or 0 when it has not finished.
func (a Approval) Duration() time.Duration {
	if a.StartedAt == nil || a.FinishedAt == nil {
		return 0
	}
	return a.FinishedAt.Sub(*a.StartedAt)
}

// ApprovalEvent is one progress event of an apply.
type ApprovalEvent struct {
	ApprovalID int64     `json:"approval_id"`
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	Container  string    `json:"container"`
	Action     string    `json:"action"`
	Status     string    `json:"status"`
	Message    string    `json:"message"`
}

const approvalColumns = `a.id, a.stack_id, s.name, a.token, a.plan, a.requested_by, a.status, a.message,
	coalesce(a.result, 'null'::jsonb), coalesce(a.claimed_by, ''), a.created_at, a.updated_at,
	a.started_at, a.finished_at, a.expires_at`

func scanApproval(row pgx.CollectableRow) (Approval, error) {
	var a Approval
	var plan, result []byte
	err := row.Scan(&a.ID, &a.StackID, &a.Stack, &a.Token, &plan, &a.RequestedBy, &a.Status, &a.Message,
		&result, &a.ClaimedBy, &a.CreatedAt, &a.UpdatedAt, &a.StartedAt, &a.FinishedAt, &a.ExpiresAt)
	a.Plan, a.Result = plan, result
	return a, err
}

// CreateApproval files a pending approval of a plan (already redacted) for
// a stack. ttl > 0 sets when it expires if no replica picks it up.
func (s *Store) CreateApproval(ctx context.Context, stackID int64, token string, plan []byte, requestedBy string, ttl time.Duration) (Approval, error) {
	var expires *time.Time
	if ttl > 0 {
		t := time.Now().Add(ttl)
		expires = &t
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO approvals (stack_id, token, plan, requested_by, expires_at)
		SELECT id, $2, $3, $4, $5 FROM stacks WHERE id = $1 AND deleted_at IS NULL RETURNING id`,
		stackID, token, plan, requestedBy, expires).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Approval{}, fmt.Errorf("stack %d: %w", stackID, ErrNotFound)
	}
	if err != nil {
		return Approval{}, fmt.Errorf("insert approval: %w", err)
	}
	return s.Approval(ctx, id)
}

// Approval returns one approval.
func (s *Store) Approval(ctx context.Context, id int64) (Approval, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+approvalColumns+` FROM approvals a JOIN stacks s ON s.id = a.stack_id WHERE a.id = $1`, id)
	a, err := pgx.CollectExactlyOneRow(rows, scanApproval)
	if errors.Is(err, pgx.ErrNoRows) {
		return Approval{}, fmt.Errorf("approval %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Approval{}, fmt.Errorf("read approval %d: %w", id, err)
	}
	return a, nil
}

// Approvals lists approvals, newest first, of one stack (by id; 0 = all
// stacks), at most limit of them.
func (s *Store) Approvals(ctx context.Context, stackID int64, limit int) ([]Approval, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+approvalColumns+` FROM approvals a JOIN stacks s ON s.id = a.stack_id
		WHERE $1 = 0 OR a.stack_id = $1 ORDER BY a.id DESC LIMIT $2`, stackID, limit)
	out, err := pgx.CollectRows(rows, scanApproval)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// CancelApproval cancels a pending approval. It returns ErrNotPending
// (wrapped) when the approval is past pending.
func (s *Store) CancelApproval(ctx context.Context, id int64, message string) (Approval, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET status = 'cancelled', message = $2, finished_at = now()
		WHERE id = $1 AND status = 'pending'`, id, message)
	if err != nil {
		return Approval{}, fmt.Errorf("cancel approval %d: %w", id, err)
	}
	a, err := s.Approval(ctx, id)
	if err != nil {
		return Approval{}, err
	}
	if tag.RowsAffected() == 0 {
		return a, fmt.Errorf("approval %d is %s: %w", id, a.Status, ErrNotPending)
	}
	return a, nil
}

// ClaimApproval moves the oldest pending approval of a stack to applying
// on behalf of replica, and returns it; nil when there is none to claim.
// Exactly one replica wins each approval. Claims of one stack are
// serialized (the stack row is locked with SKIP LOCKED: a replica that
// finds it locked claims nothing and never waits), and nothing is claimed
// while another approval of the stack is applying, so controller replicas
// never conflict with each other on a stack.
func (s *Store) ClaimApproval(ctx context.Context, stackID int64, replica string) (*Approval, error) {
	var claimed *int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked int64
		err := tx.QueryRow(ctx, `SELECT id FROM stacks WHERE id = $1 FOR UPDATE SKIP LOCKED`, stackID).Scan(&locked)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another replica is claiming for this stack right now, or it is gone
		}
		if err != nil {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `UPDATE approvals SET status = 'applying', claimed_by = $2, started_at = now()
			WHERE id = (
				SELECT id FROM approvals
				WHERE stack_id = $1 AND status = 'pending'
				  AND (expires_at IS NULL OR expires_at > now())
				  AND NOT EXISTS (SELECT 1 FROM approvals WHERE stack_id = $1 AND status = 'applying')
				ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING id`, stackID, replica).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		claimed = &id
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim approval of stack %d: %w", stackID, err)
	}
	if claimed == nil {
		return nil, nil
	}
	a, err := s.Approval(ctx, *claimed)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// MarkApprovalLocked records the backend pid of the session holding the
// stack's advisory lock for an applying approval (see
// InterruptOrphanedApprovals).
func (s *Store) MarkApprovalLocked(ctx context.Context, id int64, pid int32) error {
	if _, err := s.pool.Exec(ctx, `UPDATE approvals SET lock_pid = $2 WHERE id = $1 AND status = 'applying'`, id, pid); err != nil {
		return fmt.Errorf("record lock of approval %d: %w", id, err)
	}
	return nil
}

// FinishApproval moves an applying approval to a final status with a
// message for the user and a result (JSON-encoded; must hold no secret).
func (s *Store) FinishApproval(ctx context.Context, id int64, status, message string, result any) error {
	if !ApprovalFinal(status) {
		return fmt.Errorf("finish approval %d: %q is not a final status", id, status)
	}
	var body []byte
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("encode result of approval %d: %w", id, err)
		}
		body = b
	}
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET status = $2, message = $3, result = $4, finished_at = now()
		WHERE id = $1 AND status = 'applying'`, id, status, message, body)
	if err != nil {
		return fmt.Errorf("finish approval %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish approval %d: it is no longer applying", id)
	}
	return nil
}

// AppendApprovalEvents appends progress events to an approval, numbering
// them after the last one; each insert announces itself on
// devarch_approval_events.
func (s *Store) AppendApprovalEvents(ctx context.Context, id int64, events []ApprovalEvent) error {
	if len(events) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, e := range events {
		batch.Queue(`INSERT INTO approval_events (approval_id, seq, at, container, action, status, message)
			SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6 FROM approval_events WHERE approval_id = $1`,
			id, e.At, e.Container, e.Action, e.Status, e.Message)
	}
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("append events of approval %d: %w", id, err)
	}
	return nil
}

// ApprovalEvents returns an approval's events with seq > after, in order.
func (s *Store) ApprovalEvents(ctx context.Context, id int64, after int) ([]ApprovalEvent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT approval_id, seq, at, container, action, status, message
		FROM approval_events WHERE approval_id = $1 AND seq > $2 ORDER BY seq`, id, after)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ApprovalEvent])
	if err != nil {
		return nil, fmt.Errorf("read events of approval %d: %w", id, err)
	}
	return out, nil
}

// ExpireApprovals moves pending approvals past their expiry to expired and
// returns how many.
func (s *Store) ExpireApprovals(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET status = 'expired', finished_at = now(),
		message = 'The approval expired before a controller applied it. Generate a new plan and approve it again.'
		WHERE status = 'pending' AND expires_at <= now()`)
	if err != nil {
		return 0, fmt.Errorf("expire approvals: %w", err)
	}
	return tag.RowsAffected(), nil
}

// InterruptOrphanedApprovals moves to interrupted every applying approval
// whose controller died: its locking session no longer holds the stack's
// advisory lock (namespace is the lock package's two-key namespace), or it
// never recorded one within grace of being claimed.
func (s *Store) InterruptOrphanedApprovals(ctx context.Context, namespace int32, grace time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE approvals a SET status = 'interrupted', finished_at = now(),
		message = 'The controller applying this plan stopped before it finished; the stack may be partly applied. Generate a new plan and apply it again.'
		WHERE a.status = 'applying' AND (
			(a.lock_pid IS NULL AND a.started_at < now() - $2::interval)
			OR (a.lock_pid IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
				  AND l.classid = ($1::bigint & 4294967295)::oid AND l.objid = (a.stack_id & 4294967295)::oid
				  AND l.pid = a.lock_pid)))`, int64(uint32(namespace)), grace.String())
	if err != nil {
		return 0, fmt.Errorf("interrupt orphaned approvals: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ActiveApprovalStacks returns the ids of stacks with pending approvals
// and of stacks with an approval applying.
func (s *Store) ActiveApprovalStacks(ctx context.Context) (pending, applying []int64, err error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT stack_id, status FROM approvals
		WHERE status IN ('pending', 'applying') ORDER BY stack_id`)
	var id int64
	var status string
	_, err = pgx.ForEachRow(rows, []any{&id, &status}, func() error {
		if status == ApprovalPending {
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

// ApprovalCounts counts approvals per status (every status present).
func (s *Store) ApprovalCounts(ctx context.Context) (map[string]int, error) {
	counts := make(map[string]int, len(ApprovalStatuses))
	for _, st := range ApprovalStatuses {
		counts[st] = 0
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
