package approval

import "slices"

// Status is where an approval is in its lifecycle. Its value is the text
// stored in approvals.status and shown by the API, the CLI and metrics.
type Status string

// The statuses, in lifecycle order.
const (
	// Pending: filed, waiting for a controller to claim it.
	Pending Status = "pending"
	// Applying: claimed by a controller, which is applying its plan.
	Applying Status = "applying"
	// Succeeded: the plan was applied.
	Succeeded Status = "succeeded"
	// Failed: the apply failed (or could not start).
	Failed Status = "failed"
	// Stale: the stack or the installation changed since the plan; nothing
	// was applied.
	Stale Status = "stale"
	// Conflict: another session held the stack's lock when the approval
	// was claimed; nothing was applied. Controllers before the lock-first
	// order recorded it; the loop now takes the lock before it claims and
	// leaves the approval pending while the lock is held, so it is found in
	// old rows only (and stays in the table for them).
	Conflict Status = "conflict"
	// Interrupted: the controller was lost (or stopped) during the apply.
	Interrupted Status = "interrupted"
	// Expired: nobody claimed it before its expiry time.
	Expired Status = "expired"
	// Cancelled: a user cancelled it while it was pending.
	Cancelled Status = "cancelled"
)

// Statuses returns every status, in lifecycle order.
func Statuses() []Status {
	return []Status{Pending, Applying, Succeeded, Failed, Stale, Conflict, Interrupted, Expired, Cancelled}
}

// Outcomes returns the statuses an applying approval can end as: how an
// apply that was claimed ended.
func Outcomes() []Status {
	return []Status{Succeeded, Failed, Stale, Conflict, Interrupted}
}

// Known reports whether s is one of Statuses.
func (s Status) Known() bool { return slices.Contains(Statuses(), s) }

// Final reports whether s is a known final status: anything but pending
// and applying. No transition leaves a final status.
func (s Status) Final() bool { return s.Known() && s != Pending && s != Applying }

// Transition is one allowed change of an approval's status.
type Transition struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// Transitions returns the table of allowed status changes: every change an
// approval may make, and no other. Migration 6 seeds the database's
// approval_transitions table with exactly these rows.
func Transitions() []Transition {
	return []Transition{
		{Pending, Applying},  // a controller claims it
		{Pending, Expired},   // the expiry sweep: nobody claimed it in time
		{Pending, Cancelled}, // a user cancels it
		{Applying, Succeeded},
		{Applying, Failed},
		{Applying, Stale},
		{Applying, Conflict},
		{Applying, Interrupted}, // the controller's outcome, or the sweep found it gone
	}
}

// CanTransition reports whether an approval may change from status from to
// status to. Staying in the same status is not a transition.
func CanTransition(from, to Status) bool {
	return slices.Contains(Transitions(), Transition{From: from, To: to})
}
