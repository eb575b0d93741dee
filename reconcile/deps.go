package reconcile

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// StatusStore persists stack statuses.
type StatusStore interface {
	WriteStackStatuses(ctx context.Context, statuses []state.StackStatus) error
}

// ApprovalStore is the approvals lifecycle seen from the loop.
type ApprovalStore interface {
	// HasPendingApproval reports whether the stack has a pending approval
	// that has not expired (a cheap check before its lock is taken).
	HasPendingApproval(ctx context.Context, stackID int64) (bool, error)
	ClaimApproval(ctx context.Context, stackID int64, replica string) (*approval.Approval, error)
	MarkApprovalLocked(ctx context.Context, id int64, pid int32) error
	FinishApproval(ctx context.Context, id int64, status approval.Status, message string, result any) error
	// FinishApprovalTx is FinishApproval in tx, the transaction that
	// releases the stack's lock (lock.Lease.Release).
	FinishApprovalTx(ctx context.Context, tx pgx.Tx, id int64, status approval.Status, message string, result any) error
}

// ApprovalEvents stores an apply's progress.
type ApprovalEvents interface {
	AppendApprovalEvents(ctx context.Context, id int64, events []approval.Event) error
}

// ApprovalSweeper finds approvals that need attention without a trigger.
type ApprovalSweeper interface {
	ExpireApprovals(ctx context.Context) (int64, error)
	// InterruptOrphanedApprovals ends the applying approvals whose
	// controller is gone and returns their stacks' ids.
	InterruptOrphanedApprovals(ctx context.Context, namespace int32, grace time.Duration) ([]int64, error)
	ActiveApprovalStacks(ctx context.Context) (pending, applying []int64, err error)
}

// ApprovalCounter counts approvals per status, for metrics.
type ApprovalCounter interface {
	ApprovalCounts(ctx context.Context) (map[string]int, error)
}

// Notifier delivers PostgreSQL NOTIFY messages.
type Notifier interface {
	Listen(ctx context.Context, channels ...string) (<-chan state.Notification, error)
}

// Observer is told what the engine's events said about containers, so
// the Planner's next snapshot shows the change (the engine's container
// list can lag behind its events); OnSettled gives it the function to call
// when a change it could only show provisionally can be observed for good
// (see deploy.Observer.HandleEvent). The Planner snapshots through the
// same observer.
type Observer interface {
	HandleEvent(ev deploy.Event)
	OnSettled(f func(stackID int64))
}

// Applier applies a stack.
type Applier interface {
	Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, progress deploy.ProgressFunc) (deploy.Result, error)
}

// RuntimeEvents streams container events.
type RuntimeEvents interface {
	Events(ctx context.Context) (<-chan deploy.Event, <-chan error)
}

// EngineEvents streams the container events of one named engine (several
// engines: see Options.Engines), each marked with the engine's name.
type EngineEvents interface {
	Events(ctx context.Context, engine string) (<-chan deploy.Event, <-chan error)
}

// Locker takes per-stack advisory locks.
type Locker interface {
	TryLock(ctx context.Context, stackID int64) (*lock.Lease, error)
}

// Deps are the controller's collaborators.
type Deps struct {
	// Planner reads desired state, observes the engine and plans: the
	// process's one Planner, shared with the API.
	Planner   *planner.Planner
	Statuses  StatusStore
	Approvals ApprovalStore
	Events    ApprovalEvents
	Sweeper   ApprovalSweeper
	Counter   ApprovalCounter
	Notifier  Notifier
	Observer  Observer
	Applier   Applier
	Runtime   RuntimeEvents
	Locker    Locker
	// Lifecycle finalises removed stacks and tells orphans; nil: deleted
	// stacks stay deleting, no orphan is counted or adopted.
	Lifecycle Lifecycle
	// Engines streams each engine's events when there are several
	// (Options.Engines); nil streams Runtime's as the one engine's.
	Engines EngineEvents
}
