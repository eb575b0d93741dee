package serve

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/api/dashboard"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/stackfile"
	"github.com/devarch/devarch-controller/state"
)

// httpDeps are what the HTTP server is built from.
type httpDeps struct {
	store   *state.Store
	fleet   *deploy.Fleet
	planner api.Planner
	locker  *lock.Locker
	reg     prometheus.Gatherer
	log     *zap.Logger
	// firstPassDone reports whether the loop's first full pass is over.
	firstPassDone func() bool
}

// newServer returns the HTTP server: the JSON API under /api/v1, health
// and metrics endpoints, and the dashboard at /.
func newServer(cfg config.Config, d httpDeps) *http.Server {
	h := api.New(api.Deps{
		Stacks: d.store, Statuses: d.store, Approvals: d.store, Locks: d.locker, Notifications: d.store,
		Installation: d.store, Planner: d.planner, Lifecycle: d.store, Orphans: orphanLister{store: d.store, obs: d.fleet},
		Ready: append([]api.Check{
			{Name: "database", Fn: d.store.Ping},
			{Name: "first_pass", Fn: firstPassCheck(d.firstPassDone)},
		}, engineChecks(cfg, d.fleet)...),
		FirstPassDone: d.firstPassDone,
		Metrics:       promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}),
		Logger:        d.log,
		Edits:         d.store,
		Pages:         d.store,
	}, api.Options{APIToken: cfg.APIToken, ApprovalTTL: cfg.ApprovalTTL, Secrets: fileSecrets(cfg.SecretsFile),
		Engines: cfg.EngineNames(), DefaultEngine: cfg.DefaultEngine()})
	mux := http.NewServeMux()
	for _, p := range []string{api.Base + "/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, h)
	}
	mux.Handle("/", dashboard.Handler())
	var handler http.Handler = mux
	if cfg.APIToken == "" && loopback(cfg.HTTPAddr) {
		// Without a token the loopback address is the only protection:
		// refuse other Host names (DNS rebinding).
		handler = api.HostCheck(api.LoopbackHosts(), mux)
	}
	return api.Server(cfg.HTTPAddr, handler)
}

// fileSecrets resolves the ${SECRET:NAME} references of stack files sent
// to the API from the configured secrets file, read at each lookup so that
// edits to it apply without a restart; nil without one (the environment of
// the controller is never used: it is not the caller's).
func fileSecrets(path string) stackfile.SecretLookup {
	if path == "" {
		return nil
	}
	return func(name string) (string, bool) {
		l, err := stackfile.FileSecrets(path)
		if err != nil {
			return "", false
		}
		return l(name)
	}
}

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

// firstPassCheck is the readiness check of the loop's first full pass: a
// controller that has not planned every stack yet serves the statuses an
// earlier process wrote.
func firstPassCheck(done func() bool) func(context.Context) error {
	return func(context.Context) error {
		if !done() {
			return errFirstPass
		}
		return nil
	}
}

// errFirstPass is the first_pass check's reason while the pass runs.
var errFirstPass = errors.New("the first full pass over every stack is still in progress; the statuses may be an earlier process's")
