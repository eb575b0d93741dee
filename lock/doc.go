// Package lock owns the per-stack PostgreSQL advisory lock that serialises
// applies: one session-level lock per stack, taken without waiting on one
// dedicated pooled connection and released on that same connection.
//
// A [Locker] hands out a [Lease] per successful [Locker.TryLock]; a lock held
// by another session is an outcome ([HeldError], matching [ErrHeld]), never a
// wait. [Locker.Holders] lists current holders from pg_locks and
// pg_stat_activity so operators and the API can see who applies what.
//
// The key scheme is (Namespace, stack id) in PostgreSQL's two-key advisory
// form; see [Key] and docs/locking.md.
//
// This package must not wait for a lock, retry, decide what a held lock means
// for an approval (reconcile does that), touch any table, or take or release
// a lock through the pool: a lock lives and dies with the one connection the
// lease pinned.
package lock
