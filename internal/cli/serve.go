package cli

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
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
)

func newServeCommand(app *App) *cobra.Command {
	var pullPolicy string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the controller: reconcile every stack, apply approved plans, serve the API and dashboard",
		Long: "Run the reconcile loop and the HTTP server (API, dashboard, /metrics). Several replicas may run\n" +
			"against one database. SIGTERM stops taking approvals, lets an in-flight apply finish within\n" +
			"shutdown_timeout, releases its locks and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), app, cfg, pullPolicy)
		},
	}
	cmd.Flags().StringVar(&pullPolicy, "pull-policy", "missing", "compose pull policy for applies: missing, never or always")
	return cmd
}

// replicaID names this process in approval rows: host, pid and a random
// suffix.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// recordPaths makes serve's configured host paths the installation's: the
// reconcile loop, the API and every CLI plan of this database use the
// recorded ones. A change is logged.
func recordPaths(ctx context.Context, store *state.Store, cfg config.Config, replica string, log *zap.Logger) error {
	p := paths(cfg)
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

func serve(ctx context.Context, app *App, cfg config.Config, pullPolicy string) error {
	log := app.Logger()
	replica := replicaID()
	if err := migrate(ctx, cfg); err != nil {
		return err
	}
	store, err := state.Open(ctx, cfg.DatabaseURL, "devarch-controller "+replica, state.WithLogger(log),
		state.WithPoolConfig(func(pc *pgxpool.Config) { pc.MaxConns = int32(2*cfg.Workers + 6) }))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	if err := recordPaths(ctx, store, cfg, replica, log); err != nil {
		return err
	}
	rt, err := deploy.NewRuntime(cfg.DockerHost, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	locker := lock.New(store.Pool(), log)
	// One observer for the loop and the API: the loop tells it which
	// containers engine events named, so the API's plans see them too.
	observer := rt.NewObserver()
	// One planner for the loop and the API, with one config-hash cache.
	plans := planner.New(store, observer, planner.Options{})
	wiring, err := newServeWiring(app, cfg, store, rt, plans, locker, log)
	if err != nil {
		return err
	}
	ctrl := reconcile.New(reconcile.Deps{
		Planner: plans, Statuses: store, Approvals: store, Events: store, Sweeper: store, Counter: store,
		Notifier: store, Observer: observer, Applier: rt, Runtime: rt, Locker: locker, Metrics: wiring.metrics,
	}, reconcile.Options{
		ReplicaID: replica, Workers: cfg.Workers, Resync: cfg.ResyncInterval, ShutdownTimeout: cfg.ShutdownTimeout,
		PullPolicy: pullPolicy, Logger: log,
	})
	wiring.queueDepth(ctrl.QueueDepth)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := wiring.server(ctrl)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", zap.String("addr", "http://"+ln.Addr().String()), zap.String("replica", replica),
		zap.String("state_dir", cfg.StateDir))

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
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout+5*time.Second)
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
