package approval

import (
	"encoding/json"
	"time"
)

// Approval is a user's go-ahead to apply one plan to one stack. Plan is the
// redacted plan the user saw; Result holds what the apply did (redacted).
type Approval struct {
	ID          int64           `json:"id"`
	StackID     int64           `json:"stack_id"`
	Stack       string          `json:"stack"`
	Token       string          `json:"token"`
	Plan        json.RawMessage `json:"plan"`
	RequestedBy string          `json:"requested_by"`
	Status      Status          `json:"status"`
	Message     string          `json:"message"`
	Result      json.RawMessage `json:"result"`
	ClaimedBy   string          `json:"claimed_by,omitempty"`
	// LockPID is the backend pid of the session holding the stack's lock
	// while applying (0 when none was recorded).
	LockPID    int32      `json:"lock_pid,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

// Duration is how long the apply took: finished_at - started_at, or 0 when
// it was never claimed or has not finished.
func (a Approval) Duration() time.Duration {
	if a.StartedAt == nil || a.FinishedAt == nil {
		return 0
	}
	return a.FinishedAt.Sub(*a.StartedAt)
}

// Event is one progress event of an apply. A zero At is stored as the time
// of the append. Status is the event's own (for example "done"), not an
// approval Status.
type Event struct {
	ApprovalID int64     `json:"approval_id"`
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	Container  string    `json:"container"`
	Action     string    `json:"action"`
	Status     string    `json:"status"`
	Message    string    `json:"message"`
}
