package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/api/view"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/stackfile"
	"github.com/devarch/devarch-controller/state"
)

func newStackCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "stack", Short: "Import, list, show, delete, disable and enable stacks"}
	cmd.AddCommand(newStackImportCommand(app), newStackListCommand(app), newStackShowCommand(app))
	cmd.AddCommand(newStackExportCommand(app))
	cmd.AddCommand(newStackHistoryCommand(app), newStackRevertCommand(app))
	cmd.AddCommand(newStackLifecycleCommands(app)...)
	return cmd
}

// secretLookup resolves ${SECRET:NAME}: the secrets file first (when
// configured), then the environment variable NAME.
func secretLookup(app *App, cfg config.Config) (stackfile.SecretLookup, error) {
	env := stackfile.EnvSecrets(app.lookupEnv)
	if cfg.SecretsFile == "" {
		return env, nil
	}
	file, err := stackfile.FileSecrets(cfg.SecretsFile)
	if err != nil {
		return nil, err
	}
	return stackfile.Chain(file, env), nil
}

func newStackImportCommand(app *App) *cobra.Command {
	var (
		dryRun bool
		output *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update a stack from a devarch export file (devarch.yml version 1)",
		Long: "Import a stack from devarch's export format. The import is all-or-nothing: any problem\n" +
			"(a missing template or secret, an invalid value) writes nothing. Re-importing the same file\n" +
			"changes nothing. ${SECRET:NAME} values come from the secrets file (--secrets-file) first,\n" +
			"then from the environment variable NAME. A weak secret (empty, shorter than 8 characters,\n" +
			"a template's default value, or part of a name the controller generates) is imported with\n" +
			"a warning that says why. The file's variables: section gives the values of the compose\n" +
			"variables (${VAR}, ${VAR:-default}...) its templates reference; a required one that is missing\n" +
			"fails the import, an unset ${VAR} is empty with a warning. --dry-run prints the change to the\n" +
			"desired state in the plan's format (-o json: the plan's JSON) and writes nothing.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			secrets, err := secretLookup(app, cfg)
			if err != nil {
				return err
			}
			file, err := stackfile.ParseFile(args[0], secrets)
			if err != nil {
				return err
			}
			if err := spec.CheckEngine(file.Stack.Name, file.Stack.Engine, cfg.EngineNames()); err != nil {
				return fmt.Errorf("import stack %q from %s: nothing was written: %w", file.Stack.Name, args[0], err)
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				if dryRun {
					p, err := st.PreviewImport(ctx, file.Stack)
					if err != nil {
						return fmt.Errorf("preview import of stack %q from %s:\n%w", file.Stack.Name, args[0], err)
					}
					return previewImport(p, file.Warnings, cmd.OutOrStdout(), output.json())
				}
				res, err := st.ImportStack(state.WithAuthor(ctx, requester()), file.Stack)
				if err != nil {
					return fmt.Errorf("import stack %q from %s: nothing was written:\n%w", file.Stack.Name, args[0], err)
				}
				out := cmd.OutOrStdout()
				for _, w := range append(file.Warnings, res.Warnings...) {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				fmt.Fprintf(out, "Stack %s (id %d): %s\n", file.Stack.Name, res.StackID, res.StackAction)
				for _, o := range res.Instances {
					fmt.Fprintf(out, "  instance %s (id %d): %s\n", o.Name, o.ID, o.Action)
				}
				if !res.Changed() {
					fmt.Fprintln(out, "No changes: the stack already matches the file.")
				} else if res.Revision > 0 {
					fmt.Fprintf(out, "Stored as revision %d (see \"devarch-controller stack history %s\").\n", res.Revision, file.Stack.Name)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the change to the desired state and write nothing")
	output = addOutputFlag(cmd)
	return cmd
}

func newStackListCommand(app *App) *cobra.Command {
	var engine string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stacks: live ones, and deleted ones whose removal is not applied yet (lifecycle deleting)",
		Long: "List stacks with the engine each runs on (its engine field, else the default engine).\n" +
			"--engine NAME lists the stacks on one configured engine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			if engine != "" && !slices.Contains(cfg.EngineNames(), engine) {
				return fmt.Errorf("engine %q is not configured; the engines are %s. Name one of them with --engine, or leave it out to list every stack",
					engine, strings.Join(cfg.EngineNames(), ", "))
			}
			engineOf := func(s spec.Stack) string { return cmp.Or(s.Engine, cfg.DefaultEngine()) }
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				stacks, err := st.Stacks(ctx)
				if err != nil {
					return err
				}
				if engine != "" {
					stacks = slices.DeleteFunc(stacks, func(s spec.Stack) bool { return engineOf(s) != engine })
				}
				return writeTable(cmd.OutOrStdout(), "NAME\tID\tENABLED\tINSTANCES\tNETWORK\tENGINE\tLIFECYCLE", stacks, func(s spec.Stack) []any {
					enabled := 0
					for _, i := range s.Instances {
						if i.Enabled {
							enabled++
						}
					}
					return []any{s.Name, s.ID, s.Enabled, fmt.Sprintf("%d/%d enabled", enabled, len(s.Instances)), s.Network(), engineOf(s), spec.Lifecycle(s)}
				})
			})
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "", "list only the stacks on this configured engine")
	return cmd
}

func newStackShowCommand(app *App) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a stack and each instance's effective spec with provenance (secrets redacted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				s, err := st.Stack(ctx, args[0])
				if err != nil {
					return err
				}
				v := view.Redact(s)
				if output.json() {
					return writeJSON(cmd.OutOrStdout(), v)
				}
				return writeStackText(cmd.OutOrStdout(), v)
			})
		},
	}
	output = addOutputFlag(cmd)
	return cmd
}

func writeStackText(w io.Writer, s view.Stack) error {
	tw := newTabWriter(w)
	network := s.Network
	if s.Subnet != "" {
		network += " (subnet " + s.Subnet + ")"
	}
	fmt.Fprintf(tw, "Stack %s (id %d), network %s, enabled %t\n", s.Name, s.ID, network, s.Enabled)
	for _, inst := range s.Instances {
		e := inst.Effective
		fmt.Fprintf(tw, "\nInstance %s (id %d, template %s, enabled %t, container %s)\n", inst.Name, inst.ID, orDash(inst.Template), inst.Enabled, inst.Container)
		row := func(field, value string, src spec.Source) {
			if value != "" {
				fmt.Fprintf(tw, "  %s\t%s\t(%s)\n", field, value, src)
			}
		}
		row("image", e.Image.Value, e.Image.Source)
		row("command", strings.Join(e.Command.Value, " "), e.Command.Source)
		row("entrypoint", strings.Join(e.Entrypoint.Value, " "), e.Entrypoint.Source)
		row("working_dir", e.WorkingDir.Value, e.WorkingDir.Source)
		row("user", e.User.Value, e.User.Source)
		for _, v := range e.Env {
			row("env."+v.Key, v.Value, v.Source)
		}
		row("ports", joinStrings(e.Ports.Value), e.Ports.Source)
		row("volumes", joinStrings(e.Volumes.Value), e.Volumes.Source)
		for _, l := range e.Labels {
			row("labels."+l.Key, l.Value, l.Source)
		}
		if h := e.Healthcheck.Value; h != nil {
			row("healthcheck", strings.Join(h.Test, " "), e.Healthcheck.Source)
		}
		row("restart", e.Restart.Value, e.Restart.Source)
		var deps []string
		for _, d := range e.DependsOn.Value {
			deps = append(deps, d.Name)
		}
		row("depends_on", strings.Join(deps, ", "), e.DependsOn.Source)
		for _, c := range e.ConfigFiles {
			row("config_files."+c.Path, fmt.Sprintf("%s (mode %04o, %d bytes)", c.Target, c.FileMode(), len(c.Content)), c.Source)
		}
	}
	return tw.Flush()
}

func joinStrings[T fmt.Stringer](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
