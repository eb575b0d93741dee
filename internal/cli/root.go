package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/config"
)

// Exit codes of Execute.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitInterrupted = 130 // the context was cancelled (SIGINT/SIGTERM) and the command failed because of it
)

// ExitError makes Execute exit with Code instead of 1. With Err nil
// nothing is printed, e.g. "plan --detailed-exitcode" returns
// &ExitError{Code: 2} when the plan has changes; that holds even when the
// ExitError is wrapped. A Code below 1 means 1.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// rootName is the program name shown in help and errors.
const rootName = "devarch-controller"

// NewRootCommand builds the devarch-controller command tree: global flags
// for every configuration key (see config.RegisterFlags), the version and
// config commands, and any WithCommands subcommands. Errors are not
// printed by cobra; Execute prints them.
//
// Subcommands must not set PersistentPreRun(E) themselves (cobra would
// skip the root's, which loads the configuration); use PreRunE.
func NewRootCommand(version string, opts ...Option) *cobra.Command {
	return newRootCommand(newApp(version, opts...))
}

func newRootCommand(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   rootName,
		Short: "Reconcile devarch stacks from PostgreSQL into Docker containers",
		Long: rootName + " keeps Docker containers in line with the stacks stored in PostgreSQL:\n" +
			"it plans every stack continuously and applies a plan only after it is approved.\n\n" +
			"Every flag below can also be set by a DEVARCH_* environment variable or a\n" +
			"YAML file (--config); see docs/configuration.md.",
		Version:           app.version,
		SilenceErrors:     true, // Execute prints errors once
		SilenceUsage:      true, // Execute prints usage for usage errors only
		PersistentPreRunE: app.preRun,
	}
	root.SetVersionTemplate(rootName + " {{.Version}}\n")
	root.SetIn(app.in)
	root.SetOut(app.out)
	root.SetErr(app.errOut)
	config.RegisterFlags(root.PersistentFlags(), config.Defaults(app.lookupEnv))

	root.AddCommand(newVersionCommand(app), newConfigCommand(app), newMigrateCommand(app),
		newCatalogCommand(app), newStackCommand(app), newPlanCommand(app), newApplyCommand(app),
		newApprovalsCommand(app), newKeyCommand(app), newServeCommand(app))
	root.AddCommand(newInstanceCommand(app))
	for _, build := range app.commands {
		root.AddCommand(build(app))
	}
	return root
}

// Execute runs the command line args (without the program name) and
// returns the process exit code: 0 on success, 1 on error, an
// ExitError's Code, or 130 when ctx was cancelled and the command failed.
// An error is printed once to stderr as "Error: <message>"; flag and
// argument errors are followed by the command's usage.
func Execute(ctx context.Context, args []string, version string, opts ...Option) int {
	app := newApp(version, opts...)
	root := newRootCommand(app)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	app.syncLogger()
	if err == nil {
		return ExitOK
	}
	return app.report(ctx, cmd, err)
}

// report prints err and picks the exit code.
func (a *App) report(ctx context.Context, cmd *cobra.Command, err error) int {
	code := ExitFailure
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		code = ExitInterrupted
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		code = max(exit.Code, ExitFailure)
		if exit.Err == nil {
			return code
		}
	}
	fmt.Fprintf(a.errOut, "Error: %s\n", err)
	if !a.started() && cmd != nil {
		fmt.Fprintf(a.errOut, "\n%s", cmd.UsageString())
	}
	return code
}
