package reconcile

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/devarch/devarch-controller/plan"
)

// The loop's Prometheus collectors. The loop reports what happened in the
// domain's words (a stack's status, an apply's result, approval counts)
// and these methods turn it into series; they decide nothing, do no I/O,
// do not log and never panic on bad input.
//
// Label values are bounded. result, phase, status and condition accept
// only the values listed here; any other value is rejected: the call
// records nothing for it and increments
// devarch_metrics_invalid_label_values_total{label="..."} instead, so a
// bug shows on the dashboard rather than as an unbounded new series. Stack
// names are bounded by the stacks that exist: deleteStack and retainStacks
// remove every series of a stack that is gone. Every label combination
// that can be known up front is created at 0 in newMetrics, so rate(),
// increase() and alerts work from the first scrape.

// Label names.
const (
	labelResult    = "result"
	labelPhase     = "phase"
	labelStatus    = "status"
	labelStack     = "stack"
	labelEngine    = "engine"
	labelAction    = "action"
	labelCondition = "condition"
	labelLabel     = "label"
	labelKind      = "kind"
)

// Histogram buckets, in seconds.
var (
	// reconcileBuckets spans 1 ms (a cached, converged stack) to 30 s (a
	// slow runtime or database).
	reconcileBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// applyBuckets spans 10 ms (an ensured network that exists) to 10 min
	// (compose recreating a large stack).
	applyBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// Reconcile results: the result label of devarch_reconcile_total.
const (
	reconcileSuccess = "success"
	reconcileError   = "error"
)

var reconcileResults = []string{reconcileSuccess, reconcileError}

// metrics holds the loop's collectors. Create it with [newMetrics]; its
// methods are safe for concurrent use.
type metrics struct {
	reconcileTotal    *prometheus.CounterVec
	reconcileDuration prometheus.Histogram

	stacks stackCollectors
	// mu makes setStack, deleteStack and retainStacks atomic with respect
	// to each other and guards known, the stacks that have series.
	mu    sync.Mutex
	known map[string]struct{}
	// engines holds the engine label of each stack's drifted series.
	engines map[string]string

	applyTotal      *prometheus.CounterVec
	applyMismatches *prometheus.CounterVec
	applyDuration   *prometheus.HistogramVec
	approvals       *prometheus.GaugeVec
	orphans         *prometheus.GaugeVec

	lockConflicts prometheus.Counter
	queueDepth    atomic.Pointer[func() int]
	runtimeUp     *prometheus.GaugeVec
	databaseUp    prometheus.Gauge

	invalid *prometheus.CounterVec
}

// newMetrics creates the loop's collectors, registers them on reg and
// creates every known label combination at 0.
//
// A nil reg creates working collectors that are not registered anywhere.
// newMetrics panics if reg already holds collectors with the same names:
// that is a wiring bug (one controller per registry), as with
// prometheus.MustRegister.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{known: make(map[string]struct{}), engines: make(map[string]string)}

	m.reconcileTotal = counterVec(f, "devarch_reconcile_total",
		"Stack reconciliations (plan computed and status written), by result: success or error.", labelResult)
	m.reconcileDuration = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "devarch_reconcile_duration_seconds",
		Help:    "Time taken to reconcile one stack: read desired and observed state, plan, write status.",
		Buckets: reconcileBuckets,
	})

	m.stacks = newStackCollectors(f)

	m.applyTotal = counterVec(f, "devarch_apply_total",
		"Approved plans that finished applying, by result (the approval's final status).", labelResult)
	m.applyMismatches = counterVec(f, "devarch_apply_mismatch_total",
		"Differences between what a successful apply's plan predicted and what the engine reported right after it, by kind: not_applied, unplanned or not_converged.", labelKind)
	m.applyDuration = f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "devarch_apply_duration_seconds",
		Help:    "Time taken by each phase of an apply (network, configs, compose) and by the whole apply (total).",
		Buckets: applyBuckets,
	}, []string{labelPhase})
	m.approvals = gaugeVec(f, "devarch_approvals", "Approvals currently stored, by status.", labelStatus)
	m.orphans = gaugeVec(f, "devarch_orphans",
		"Labeled containers and networks on the engine whose stack is not in this database (another database's, or a removed stack's), by kind: container or network.", labelKind)

	m.lockConflicts = f.NewCounter(prometheus.CounterOpts{Name: "devarch_lock_conflicts_total",
		Help: "Attempts to take a stack's advisory lock that found it held by another session."})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "devarch_workqueue_depth", Help: "Stacks waiting in the reconcile work queue."},
		m.queueDepthValue)
	m.runtimeUp = gaugeVec(f, "devarch_runtime_up",
		"1 when the engine (Docker or Podman API) answered the last request, else 0, by engine.", labelEngine)
	m.databaseUp = f.NewGauge(prometheus.GaugeOpts{Name: "devarch_database_up",
		Help: "1 when PostgreSQL answered the last request, else 0."})

	m.invalid = counterVec(f, "devarch_metrics_invalid_label_values_total",
		"Metric updates rejected because a label value was outside its fixed set (a caller bug), by label name.", labelLabel)

	m.initSeries()
	return m
}

// counterVec and gaugeVec create a labeled collector on f.
func counterVec(f promauto.Factory, name, help string, labels ...string) *prometheus.CounterVec {
	return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gaugeVec(f promauto.Factory, name, help string, labels ...string) *prometheus.GaugeVec {
	return f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

// initSeries creates every known label combination at 0.
func (m *metrics) initSeries() {
	for _, r := range reconcileResults {
		m.reconcileTotal.WithLabelValues(r)
	}
	for _, r := range applyResults {
		m.applyTotal.WithLabelValues(r)
	}
	for _, p := range applyPhases {
		m.applyDuration.WithLabelValues(p)
	}
	for _, k := range plan.MismatchKinds() {
		m.applyMismatches.WithLabelValues(string(k))
	}
	for _, s := range approvalStatuses {
		m.approvals.WithLabelValues(s).Set(0)
	}
	for _, k := range orphanKinds {
		m.orphans.WithLabelValues(k).Set(0)
	}
	for _, l := range []string{labelResult, labelPhase, labelStatus, labelCondition, labelStack, labelKind} {
		m.invalid.WithLabelValues(l)
	}
}

// reject records a label value outside its fixed set.
func (m *metrics) reject(label string) {
	m.invalid.WithLabelValues(label).Inc()
}

// observeReconcile records one reconciliation (of a stack, or a full
// pass) and how long it took: devarch_reconcile_total{result="success"}
// when result is "success", else {result="error"}, and
// devarch_reconcile_duration_seconds either way.
func (m *metrics) observeReconcile(result string, took time.Duration) {
	if result != reconcileSuccess {
		result = reconcileError
	}
	m.reconcileTotal.WithLabelValues(result).Inc()
	m.reconcileDuration.Observe(took.Seconds())
}

// setQueueDepthFunc makes devarch_workqueue_depth report depth() at every
// scrape. depth runs on the scraping goroutine, so it must be safe for
// concurrent use and fast (a locked length read). Nil reports 0.
func (m *metrics) setQueueDepthFunc(depth func() int) {
	if depth == nil {
		m.queueDepth.Store(nil)
		return
	}
	m.queueDepth.Store(&depth)
}

// queueDepthValue is the callback of devarch_workqueue_depth.
func (m *metrics) queueDepthValue() float64 {
	depth := m.queueDepth.Load()
	if depth == nil {
		return 0
	}
	return float64((*depth)())
}

// lockConflict records one attempt to take a stack's advisory lock that
// found it held by another session (devarch_lock_conflicts_total).
func (m *metrics) lockConflict() {
	m.lockConflicts.Inc()
}

// setRuntimeUp records whether the container runtime (Docker or Podman
// API) answered the last request: devarch_runtime_up is 1 or 0.
func (m *metrics) setRuntimeUp(engine string, up bool) {
	m.runtimeUp.WithLabelValues(engine).Set(boolValue(up))
}

// setDatabaseUp records whether PostgreSQL answered the last request:
// devarch_database_up is 1 or 0.
func (m *metrics) setDatabaseUp(up bool) {
	m.databaseUp.Set(boolValue(up))
}

// boolValue is 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
