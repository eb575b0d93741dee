package metrics

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Label names.
const (
	labelResult    = "result"
	labelPhase     = "phase"
	labelStatus    = "status"
	labelStack     = "stack"
	labelAction    = "action"
	labelCondition = "condition"
	labelLabel     = "label"
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

// Metrics holds every collector of the controller. Create it with [New];
// its methods are safe for concurrent use, and a nil *Metrics records
// nothing.
type Metrics struct {
	reconcileTotal    *prometheus.CounterVec
	reconcileDuration prometheus.Histogram

	stacks stackCollectors
	// mu makes SetStack, DeleteStack and RetainStacks atomic with respect
	// to each other and guards known, the stacks that have series.
	mu    sync.Mutex
	known map[string]struct{}

	applyTotal    *prometheus.CounterVec
	applyDuration *prometheus.HistogramVec
	approvals     *prometheus.GaugeVec

	lockConflicts prometheus.Counter
	queueDepth    atomic.Pointer[func() int]
	runtimeUp     prometheus.Gauge
	databaseUp    prometheus.Gauge

	invalid *prometheus.CounterVec
}

// stackCollectors are the per-stack series, all labeled by stack.
type stackCollectors struct {
	drifted       *prometheus.GaugeVec
	changes       *prometheus.GaugeVec
	lastReconcile *prometheus.GaugeVec
	condition     *prometheus.GaugeVec
}

// all lists the per-stack vectors, so deleting a stack cannot miss one.
func (s stackCollectors) all() []*prometheus.GaugeVec {
	return []*prometheus.GaugeVec{s.drifted, s.changes, s.lastReconcile, s.condition}
}

// New creates the controller's collectors, registers them on reg and
// creates every known label combination at 0. version is the controller's
// build version, exported as devarch_build_info{version,go_version} = 1.
//
// A nil reg creates working collectors that are not registered anywhere.
// New panics if reg already holds collectors with the same names: that is
// a wiring bug (one Metrics per registry), as with prometheus.MustRegister.
func New(reg prometheus.Registerer, version string) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{known: make(map[string]struct{})}

	m.reconcileTotal = f.NewCounterVec(prometheus.CounterOpts{
		Name: "devarch_reconcile_total",
		Help: "Stack reconciliations (plan computed and status written), by result: success or error.",
	}, []string{labelResult})
	m.reconcileDuration = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "devarch_reconcile_duration_seconds",
		Help:    "Time taken to reconcile one stack: read desired and observed state, plan, write status.",
		Buckets: reconcileBuckets,
	})

	m.stacks = newStackCollectors(f)

	m.applyTotal = f.NewCounterVec(prometheus.CounterOpts{
		Name: "devarch_apply_total",
		Help: "Approved plans that finished applying, by result (the approval's final status).",
	}, []string{labelResult})
	m.applyDuration = f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "devarch_apply_duration_seconds",
		Help:    "Time taken by each phase of an apply (network, configs, compose) and by the whole apply (total).",
		Buckets: applyBuckets,
	}, []string{labelPhase})
	m.approvals = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "devarch_approvals",
		Help: "Approvals currently stored, by status.",
	}, []string{labelStatus})

	m.lockConflicts = f.NewCounter(prometheus.CounterOpts{
		Name: "devarch_lock_conflicts_total",
		Help: "Attempts to take a stack's advisory lock that found it held by another session.",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "devarch_workqueue_depth",
		Help: "Stacks waiting in the reconcile work queue.",
	}, m.queueDepthValue)
	m.runtimeUp = f.NewGauge(prometheus.GaugeOpts{
		Name: "devarch_runtime_up",
		Help: "1 when the container runtime (Docker or Podman API) answered the last request, else 0.",
	})
	m.databaseUp = f.NewGauge(prometheus.GaugeOpts{
		Name: "devarch_database_up",
		Help: "1 when PostgreSQL answered the last request, else 0.",
	})
	f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "devarch_build_info",
		Help: "Always 1; labels carry the controller's version and the Go version it was built with.",
	}, []string{"version", "go_version"}).WithLabelValues(strings.ToValidUTF8(version, "?"), runtime.Version()).Set(1)

	m.invalid = f.NewCounterVec(prometheus.CounterOpts{
		Name: "devarch_metrics_invalid_label_values_total",
		Help: "Metric updates rejected because a label value was outside its fixed set (a caller bug), by label name.",
	}, []string{labelLabel})

	m.initSeries()
	return m
}

// initSeries creates every known label combination at 0.
func (m *Metrics) initSeries() {
	for _, r := range reconcileResults {
		m.reconcileTotal.WithLabelValues(r)
	}
	for _, r := range applyResults {
		m.applyTotal.WithLabelValues(r)
	}
	for _, p := range applyPhases {
		m.applyDuration.WithLabelValues(p)
	}
	for _, s := range approvalStatuses {
		m.approvals.WithLabelValues(s).Set(0)
	}
	for _, l := range []string{labelResult, labelPhase, labelStatus, labelCondition, labelStack} {
		m.invalid.WithLabelValues(l)
	}
}

// reject records a label value outside its fixed set.
func (m *Metrics) reject(label string) {
	m.invalid.WithLabelValues(label).Inc()
}

// boolValue is 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
