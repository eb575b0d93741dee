package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// openStore migrates the database (idempotent, so every command works on a
// fresh database) and opens the store. The caller closes it.
func openStore(ctx context.Context, cfg config.Config, appName string) (*state.Store, error) {
	if err := migrate(ctx, cfg); err != nil {
		return nil, err
	}
	st, err := state.Open(ctx, cfg.DatabaseURL, appName, state.WithSubnetPool(cfg.SubnetPool()))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// ping checks that the container engine answers; the error names the
// engine and its host, and where to correct it.
func ping(ctx context.Context, rt *deploy.Runtime, cfg config.Config) error {
	if err := rt.Ping(ctx); err != nil {
		if len(cfg.Engines) > 0 {
			return fmt.Errorf("engine %q at %s does not answer (%w); start it, or correct its host in the engines section of the config file",
				rt.EngineName(), rt.Host(), err)
		}
		return fmt.Errorf("the container engine at %s does not answer (%w); start dockerd or set --docker-host", rt.Host(), err)
	}
	return nil
}

// migrate brings the schema up to date and sets up the installation: its
// key when there is none, and this configuration's host paths when none
// are recorded yet (serve records its own at every start).
func migrate(ctx context.Context, cfg config.Config) error {
	if err := state.Migrate(ctx, cfg.DatabaseURL, state.WithInitialPaths(paths(cfg))); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

// paths are where apply writes config files and resolves relative bind
// mounts according to this process's configuration: the state dir and its
// workspace folder. Plans use the installation's recorded paths instead
// (see notePaths); serve records these at start.
func paths(cfg config.Config) project.Options {
	return project.Options{StateDir: cfg.StateDir, WorkspaceDir: filepath.Join(cfg.StateDir, "workspace")}
}

// notePaths tells the user when the controller's recorded host paths,
// which plans are computed with, differ from this command's configuration.
func notePaths(in project.Options, cfg config.Config, w io.Writer) {
	local := paths(cfg)
	switch {
	case local.StateDir != in.StateDir:
		fmt.Fprintf(w, "Note: planning with the controller's state_dir %s, recorded in the database; this command's state_dir %s is not used.\n", in.StateDir, local.StateDir)
	case local.WorkspaceDir != in.WorkspaceDir:
		fmt.Fprintf(w, "Note: planning with the controller's workspace %s, recorded in the database; this command's workspace %s is not used.\n", in.WorkspaceDir, local.WorkspaceDir)
	}
}

// isTerminal reports whether w is a terminal (for colour).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stackPlan is a stack's fresh plan, with the store, runtime and planner
// it was made with (the caller closes them with close).
type stackPlan struct {
	store   *state.Store
	rt      *deploy.Runtime
	planner *planner.Planner
	stack   spec.Stack
	plan    *plan.Plan
}

// close closes the runtime and the store.
func (sp *stackPlan) close() {
	_ = sp.rt.Close()
	sp.store.Close()
}

// planStack reads a stack from the database, observes the runtime and
// computes the stack's plan.
func planStack(ctx context.Context, app *App, cfg config.Config, name, appName string) (*stackPlan, error) {
	st, err := openStore(ctx, cfg, appName)
	if err != nil {
		return nil, err
	}
	sp, err := planWith(ctx, app, cfg, st, name)
	if err != nil {
		st.Close()
		return nil, err
	}
	return sp, nil
}

func planWith(ctx context.Context, app *App, cfg config.Config, st *state.Store, name string) (*stackPlan, error) {
	rt, err := stackRuntime(ctx, app, cfg, st, name)
	if err != nil {
		return nil, err
	}
	sp, err := planOn(ctx, app, cfg, st, rt, name)
	if err != nil {
		_ = rt.Close()
		return nil, err
	}
	return sp, nil
}

// planOn plans the stack named name with a planner over st and rt.
func planOn(ctx context.Context, app *App, cfg config.Config, st *state.Store, rt *deploy.Runtime, name string) (*stackPlan, error) {
	pl := planner.New(st, rt.NewObserver(), planner.Options{})
	d, err := pl.Desired(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, rt, cfg); err != nil {
		return nil, err
	}
	notePaths(d.Paths, cfg, app.errOut)
	p, err := pl.Plan(ctx, d)
	if err != nil {
		return nil, err
	}
	return &stackPlan{store: st, rt: rt, planner: pl, stack: d.Stack, plan: p}, nil
}
