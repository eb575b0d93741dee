// Package approval owns the approval lifecycle: the Status of an approval,
// the table of transitions between statuses, the Approval and Event
// values, and the user-facing messages the lifecycle writes.
//
// An approval is a user's go-ahead to apply one plan to one stack. It is
// filed pending (package approval/filing checks the request first); a
// controller claims it (applying) and records how the apply ended: one of
// the outcomes succeeded, failed, stale, conflict or interrupted. A pending
// approval may instead expire or be cancelled. Every status but pending and
// applying is final: nothing leaves it.
//
//	pending ──► applying ──► succeeded | failed | stale | conflict | interrupted
//	   └──────► expired | cancelled
//
// Transitions is the one table of allowed changes. The database enforces
// the same table (migration 6: the approval_transitions table and a
// trigger on approvals), so a write outside it fails whoever makes it.
//
// This package holds no I/O: it must not read or write the database (package
// state stores approvals), talk to the container engine or log.
package approval
