package metrics

import "time"

// Reconcile results: the result label of devarch_reconcile_total.
const (
	reconcileSuccess = "success"
	reconcileError   = "error"
)

var reconcileResults = []string{reconcileSuccess, reconcileError}

// ReconcileFinished records one reconciliation of a stack and how long it
// took: devarch_reconcile_total{result="success"} when err is nil, else
// {result="error"}, and devarch_reconcile_duration_seconds either way.
func (m *Metrics) ReconcileFinished(err error, took time.Duration) {
	if m == nil {
		return
	}
	result := reconcileSuccess
	if err != nil {
		result = reconcileError
	}
	m.reconcileTotal.WithLabelValues(result).Inc()
	m.reconcileDuration.Observe(took.Seconds())
}

// SetQueueDepthFunc makes devarch_workqueue_depth report depth() at every
// scrape. depth runs on the scraping goroutine, so it must be safe for
// concurrent use and fast (a locked length read). Nil reports 0.
func (m *Metrics) SetQueueDepthFunc(depth func() int) {
	if m == nil {
		return
	}
	if depth == nil {
		m.queueDepth.Store(nil)
		return
	}
	m.queueDepth.Store(&depth)
}

// queueDepthValue is the callback of devarch_workqueue_depth.
func (m *Metrics) queueDepthValue() float64 {
	depth := m.queueDepth.Load()
	if depth == nil {
		return 0
	}
	return float64((*depth)())
}

// LockConflict records one attempt to take a stack's advisory lock that
// found it held by another session (devarch_lock_conflicts_total).
func (m *Metrics) LockConflict() {
	if m == nil {
		return
	}
	m.lockConflicts.Inc()
}
