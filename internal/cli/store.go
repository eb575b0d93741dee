package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/state"
)

// openStore migrates the database (idempotent, so every command works on a
// fresh database) and opens the store. The caller closes it.
func openStore(ctx context.Context, cfg config.Config, appName string) (*state.Store, error) {
	if err := state.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	st, err := state.Open(ctx, cfg.DatabaseURL, appName)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// openRuntime connects to the container engine and checks that it answers.
func openRuntime(ctx context.Context, app *App, cfg config.Config) (*deploy.Runtime, error) {
	rt, err := deploy.NewRuntime(cfg.DockerHost, app.Logger())
	if err != nil {
		return nil, err
	}
	if err := rt.Ping(ctx); err != nil {
		_ = rt.Close()
		return nil, fmt.Errorf("the container engine at %s does not answer (%w); start dockerd or set --docker-host", cfg.DockerHost, err)
	}
	return rt, nil
}

// paths are where apply writes config files and resolves relative bind
// mounts: the state dir and its workspace folder.
func paths(cfg config.Config) project.Options {
	return project.Options{StateDir: cfg.StateDir, WorkspaceDir: filepath.Join(cfg.StateDir, "workspace")}
}

// isTerminal reports whether w is a terminal (for colour).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
