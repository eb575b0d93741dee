// Package reconcile is the controller's loop. Triggers (Docker events,
// PostgreSQL NOTIFY on desired-state and approval changes, a jittered
// resync timer) only enqueue stack ids; workers take one stack at a time
// from a deduplicating work queue, read desired and observed state afresh
// (level-triggered), compute the plan, write the stack's status when it
// changed, and apply approved plans under the stack's advisory lock.
//
// It must not talk to Docker or PostgreSQL directly: it goes through the
// small interfaces declared here, implemented by deploy, state and lock.
//
// It owns the loop's Prometheus metrics (metrics*.go, listed in
// docs/metrics.md): New registers them on Options.Registerer (nil: working
// but unregistered), and the loop reports into them what it observes.
package reconcile
