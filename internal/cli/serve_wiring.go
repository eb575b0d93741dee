package cli

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/metrics"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
)

// serveWiring holds what serve builds around the controller: the metrics
// registry and the HTTP server.
type serveWiring struct {
	app     *App
	cfg     config.Config
	store   *state.Store
	rt      *deploy.Runtime
	locker  *lock.Locker
	log     *zap.Logger
	reg     *prometheus.Registry
	metrics metricsAdapter
}

func newServeWiring(app *App, cfg config.Config, store *state.Store, rt *deploy.Runtime, locker *lock.Locker, log *zap.Logger) (*serveWiring, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &serveWiring{app: app, cfg: cfg, store: store, rt: rt, locker: locker, log: log, reg: reg,
		metrics: metricsAdapter{metrics.New(reg, app.Version())}}, nil
}

func (w *serveWiring) queueDepth(f func() int) { w.metrics.m.SetQueueDepthFunc(f) }

// server returns the HTTP server: API, dashboard, health and metrics.
func (w *serveWiring) server(_ *reconcile.Controller) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{}))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// metricsAdapter maps the loop's observations onto package metrics.
type metricsAdapter struct{ m *metrics.Metrics }

func (a metricsAdapter) ObserveReconcile(result string, d time.Duration) {
	var err error
	if result != "success" {
		err = errReconcile
	}
	a.m.ReconcileFinished(err, d)
}

func (a metricsAdapter) SetStackStatus(st state.StackStatus) {
	add, mod, rem := st.Counts["add"], st.Counts["modify"], st.Counts["remove"]
	a.m.SetStack(st.Stack, metrics.StackState{
		Drifted: add+mod+rem > 0, Add: add, Modify: mod, Remove: rem, Condition: st.Condition, LastReconcile: st.LastReconcile,
	})
}

func (a metricsAdapter) DeleteStackStatus(stack string) { a.m.DeleteStack(stack) }
func (a metricsAdapter) RetainStacks(names []string)   { a.m.RetainStacks(names) }
func (a metricsAdapter) ObserveApply(result string, durations map[string]time.Duration) {
	a.m.ApplyFinished(result)
	for phase, d := range durations {
		if phase != deploy.PhaseBuild {
			a.m.ObserveApplyPhase(phase, d)
		}
	}
}
func (a metricsAdapter) SetApprovals(counts map[string]int) { a.m.SetApprovals(counts) }
func (a metricsAdapter) IncLockConflicts()                  { a.m.LockConflict() }
func (a metricsAdapter) SetRuntimeUp(up bool)               { a.m.SetRuntimeUp(up) }
func (a metricsAdapter) SetDatabaseUp(up bool)              { a.m.SetDatabaseUp(up) }

type reconcileError struct{}

func (reconcileError) Error() string { return "reconcile failed" }

var errReconcile error = reconcileError{}
