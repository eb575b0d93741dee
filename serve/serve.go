package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
)

// Options configure [Run].
type Options struct {
	// Config is the controller's configuration, already validated
	// (config.Config.Validate): database, runtime, state dir, listen
	// address, API token, workers, intervals and timeouts.
	Config config.Config
	// Paths are the host paths this controller applies with (the state
	// dir and its workspace). Run records them as the installation's, so
	// every plan of the database is computed with them.
	Paths project.Options
	// PullPolicy is compose's pull policy for applies: missing (the
	// default), never or always.
	PullPolicy string
	// Version is the controller's build version, exported as
	// devarch_build_info{version}.
	Version string
	// Logger receives the process's logs; nil logs nothing.
	Logger *zap.Logger
	// Registry receives every metric of the process and is what /metrics
	// serves. Nil makes a new one; a registry must not be given to two
	// Runs at once (the collectors' names would clash).
	Registry *prometheus.Registry
	// OnListen, when set, is called with the address the HTTP server
	// listens on (host:port) once it accepts connections: with
	// Config.HTTPAddr "127.0.0.1:0" it names the port the kernel chose.
	OnListen func(addr string)
}

// shutdownGrace is how much longer than the shutdown timeout the HTTP
// server gets to close its connections (an SSE stream ends with the apply
// it follows).
const shutdownGrace = 5 * time.Second

// Run runs the controller until ctx ends: it migrates the database, opens
// the store, records opts.Paths, connects to the runtime, starts the
// reconcile loop and serves HTTP on Config.HTTPAddr. When ctx ends it
// stops taking approvals, lets an in-flight apply finish within
// Config.ShutdownTimeout, shuts the HTTP server down and returns nil. It
// returns an error when it cannot start, or when the HTTP server fails
// (the loop is then stopped the same way).
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	replica := replicaID()
	store, err := openStore(ctx, opts, replica, log)
	if err != nil {
		return err
	}
	defer store.Close()
	fleet, err := newFleet(cfg, log)
	if err != nil {
		return err
	}
	defer fleet.Close()
	if err := os.MkdirAll(opts.Paths.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	registerProcessMetrics(reg, opts.Version)
	locker := lock.New(store.Pool(), log)
	// One observer per engine for the loop and the API (the fleet's): the
	// loop tells it which containers engine events named, so the API's
	// plans see them too.
	// One planner for the loop and the API, with one config-hash cache.
	plans := planner.New(store, fleet, planner.Options{})
	ctrl := reconcile.New(reconcile.Deps{
		Planner: plans, Statuses: store, Approvals: store, Events: store, Sweeper: store, Counter: store,
		Notifier: store, Observer: fleet, Applier: fleet, Engines: fleet, Locker: locker, Lifecycle: store,
	}, reconcile.Options{
		ReplicaID: replica, Workers: cfg.Workers, Resync: cfg.ResyncInterval, ShutdownTimeout: cfg.ShutdownTimeout,
		PullPolicy: opts.PullPolicy, Logger: log, Registerer: reg,
		Engines: fleet.Names(), DefaultEngine: fleet.Default(),
	})

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := newServer(cfg, httpDeps{store: store, fleet: fleet, planner: plans, locker: locker, reg: reg, log: log, firstPassDone: ctrl.FirstPassDone})
	log.Info("serving", zap.String("addr", "http://"+ln.Addr().String()), zap.String("replica", replica),
		zap.String("state_dir", opts.Paths.StateDir))
	return runUntilDone(ctx, opts, log, ln, srv, ctrl)
}

// openStore migrates the database, opens the store (its pool sized for
// the workers) and records this controller's host paths.
func openStore(ctx context.Context, opts Options, replica string, log *zap.Logger) (*state.Store, error) {
	cfg := opts.Config
	if err := state.Migrate(ctx, cfg.DatabaseURL, state.WithInitialPaths(opts.Paths)); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	store, err := state.Open(ctx, cfg.DatabaseURL, "devarch-controller "+replica, state.WithLogger(log), state.WithSubnetPool(cfg.SubnetPool()),
		state.WithPoolConfig(func(pc *pgxpool.Config) { pc.MaxConns = int32(2*cfg.Workers + 6) }))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := recordPaths(ctx, store, opts.Paths, replica, log); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// runUntilDone serves HTTP on ln and runs the loop until ctx ends or the
// HTTP server fails, then stops both: the loop within the shutdown
// timeout, the HTTP server shortly after.
func runUntilDone(ctx context.Context, opts Options, log *zap.Logger, ln net.Listener, srv *http.Server, ctrl *reconcile.Controller) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr().String())
	}
	ctrlDone := make(chan error, 1)
	runCtx, stopCtrl := context.WithCancel(ctx)
	defer stopCtrl()
	go func() { ctrlDone <- ctrl.Run(runCtx) }()

	var failed error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("http server stopped; stopping the controller", zap.NamedError("err", err))
		failed = fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	stopCtrl()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Config.ShutdownTimeout+shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", zap.NamedError("err", err))
	}
	if err := <-ctrlDone; err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	log.Info("stopped cleanly")
	return nil
}

// replicaID names this process in approval rows: host, pid and a random
// suffix.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// recordPaths makes this controller's host paths the installation's: the
// reconcile loop, the API and every CLI plan of this database use the
// recorded ones. A change is logged.
func recordPaths(ctx context.Context, store *state.Store, p project.Options, replica string, log *zap.Logger) error {
	prev, changed, err := store.RecordPaths(ctx, p, "serve "+replica)
	if err != nil {
		return err
	}
	if changed {
		log.Warn("installation host paths changed to this controller's configuration; containers built with the old ones are planned for recreation and pending approvals are stale. Every replica must use the same state_dir",
			zap.String("state_dir", p.StateDir), zap.String("workspace_dir", p.WorkspaceDir),
			zap.String("previous_state_dir", prev.StateDir), zap.String("previous_workspace_dir", prev.WorkspaceDir))
	}
	return nil
}
