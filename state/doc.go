// Package state owns the controller's desired state in PostgreSQL: the
// embedded schema migrations, the template catalog, stacks and their
// instances (with soft delete), the effective spec of every instance
// computed with spec.Merge, the installation (the keys of staleness tokens
// and label digests, and the recorded host paths), and LISTEN/NOTIFY on the
// channels the schema's triggers feed. The approvals, approval_events and
// stack_status tables are created here for the reconcile loop; approvals
// are stored here, but their lifecycle (statuses and allowed transitions,
// which migration 6 enforces in the database) belongs to package approval.
// Every change to a stack's desired state stores a revision (stack_revisions)
// in the change's transaction: who, when, what kind, the change as
// plan.Preview shows it (secrets redacted) and the document that restores it.
// docs/schema.md describes every table, trigger and payload.
//
// Every write validates with spec before it touches a row, runs in one
// transaction, and issues no UPDATE for a row whose content would not
// change, so updated_at and NOTIFY mean "something really changed".
//
// This package must not talk to Docker, compute plans of what runs (it only
// previews one desired state against another with plan.Preview), hold apply locks
// (package lock does), or log or return secret values: errors name stacks,
// instances and templates, never env values, and the installation keys'
// secrets are read by Installation only (Keys lists ids and dates).
package state
