package cli

import (
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/api/dashboard"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/metrics"
	"github.com/devarch/devarch-controller/planner"
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
	planner *planner.Planner
	locker  *lock.Locker
	log     *zap.Logger
	reg     *prometheus.Registry
	metrics metricsAdapter
}

func newServeWiring(app *App, cfg config.Config, store *state.Store, rt *deploy.Runtime, plans *planner.Planner, locker *lock.Locker, log *zap.Logger) (*serveWiring, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &serveWiring{app: app, cfg: cfg, store: store, rt: rt, planner: plans, locker: locker, log: log, reg: reg,
		metrics: metricsAdapter{metrics.New(reg, app.Version())}}, nil
}

func (w *serveWiring) queueDepth(f func() int) { w.metrics.m.SetQueueDepthFunc(f) }

// server returns the HTTP server: the JSON API under /api/v1, health
// and metrics endpoints, and the dashboard at /.
func (w *serveWiring) server(_ *reconcile.Controller) *http.Server {
	h := api.New(api.Deps{
		Stacks: w.store, Statuses: w.store, Approvals: w.store, Locks: w.locker, Notifications: w.store,
		Installation: w.store, Planner: w.planner,
		Ready: []api.Check{
			{Name: "database", Fn: w.store.Ping},
			{Name: "docker", Fn: w.rt.Ping},
		},
		Metrics: promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{}),
		Logger:  w.log,
	}, api.Options{APIToken: w.cfg.APIToken, ApprovalTTL: w.cfg.ApprovalTTL})
	mux := http.NewServeMux()
	for _, p := range []string{api.Base + "/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, h)
	}
	mux.Handle("/", dashboard.Handler())
	var handler http.Handler = mux
	if w.cfg.APIToken == "" && loopback(w.cfg.HTTPAddr) {
		// Without a token the loopback address is the only protection:
		// refuse other Host names (DNS rebinding).
		handler = api.HostCheck(api.LoopbackHosts(), mux)
	}
	return api.Server(w.cfg.HTTPAddr, handler)
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
func (a metricsAdapter) RetainStacks(names []string)    { a.m.RetainStacks(names) }
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

// loopback reports whether a listen address is on a loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
