package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/state"
)

// newStackLifecycleCommands are the stack commands that change a stack's
// lifecycle: delete, disable, enable, and the orphans report.
func newStackLifecycleCommands(app *App) []*cobra.Command {
	return []*cobra.Command{newStackDeleteCommand(app), newStackEnabledCommand(app, false), newStackEnabledCommand(app, true),
		newStackOrphansCommand(app)}
}

func newStackDeleteCommand(app *App) *cobra.Command {
	var volumes, yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a stack from the desired state and show its removal plan",
		Long: "Mark the stack deleted in the desired state (after typing its name, or with --yes) and show\n" +
			"its removal plan: - for every container and for the networks the stack created. Named\n" +
			"volumes are kept and named in the plan, unless --volumes is given. Nothing on the engine\n" +
			"changes until the removal plan is applied (devarch-controller apply NAME); after that the\n" +
			"stack disappears from every list. Until then it shows as deleting. A stack with an\n" +
			"approval applying cannot be deleted: wait until the apply ends.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			out := cmd.OutOrStdout()
			if !yes {
				if err := confirmName(app.in, out, "delete", name); err != nil {
					return err
				}
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				res, err := st.DeleteStackChecked(state.WithAuthor(ctx, requester()), name, state.DeleteStackOptions{RemoveVolumes: volumes})
				if err != nil {
					return err
				}
				if res.Changed {
					fmt.Fprintf(out, "Stack %s (id %d) deleted from the desired state; nothing was removed from the engine yet.\n", name, res.StackID)
				} else {
					fmt.Fprintf(out, "Stack %s (id %d) was already deleted; its removal is not applied yet.\n", name, res.StackID)
				}
				return showNextPlan(ctx, app, cfg, st, cmd, name, "removal")
			})
		},
	}
	cmd.Flags().BoolVar(&volumes, "volumes", false, "remove the stack's named volumes (and their data) too")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask to type the stack's name")
	return cmd
}

func newStackEnabledCommand(app *App, enable bool) *cobra.Command {
	verb, short := "disable", "Disable a stack: its containers are removed by its next plan; its desired state is kept"
	if enable {
		verb, short = "enable", "Enable a disabled stack: its next plan brings its containers back"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				res, err := st.SetStackEnabledChecked(state.WithAuthor(ctx, requester()), args[0], enable)
				if err != nil {
					return err
				}
				reportToggle(cmd.OutOrStdout(), "Stack "+args[0], verb, res.Changed)
				return showNextPlan(ctx, app, cfg, st, cmd, args[0], "")
			})
		},
	}
}

// newInstanceCommand is "instance delete|disable|enable STACK INSTANCE".
func newInstanceCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "instance", Short: "Delete, disable or enable one instance of a stack"}
	for _, verb := range []string{"delete", "disable", "enable"} {
		cmd.AddCommand(newInstanceLifecycleCommand(app, verb))
	}
	return cmd
}

func newInstanceLifecycleCommand(app *App, verb string) *cobra.Command {
	short := map[string]string{
		"delete":  "Delete an instance from the desired state and show the plan that removes its container",
		"disable": "Disable an instance: its container is removed by the next plan; its desired state is kept",
		"enable":  "Enable a disabled instance: the next plan brings its container back",
	}[verb]
	return &cobra.Command{
		Use:   verb + " STACK INSTANCE",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			stack, instance := args[0], args[1]
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				var res state.LifecycleResult
				var err error
				switch verb {
				case "delete":
					res, err = st.DeleteInstanceChecked(state.WithAuthor(ctx, requester()), stack, instance)
				default:
					res, err = st.SetInstanceEnabledChecked(state.WithAuthor(ctx, requester()), stack, instance, verb == "enable")
				}
				if err != nil {
					return err
				}
				reportToggle(cmd.OutOrStdout(), fmt.Sprintf("Instance %s of stack %s", instance, stack), verb, res.Changed)
				return showNextPlan(ctx, app, cfg, st, cmd, stack, "")
			})
		},
	}
}

func reportToggle(w io.Writer, what, verb string, changed bool) {
	past := map[string]string{"delete": "deleted", "disable": "disabled", "enable": "enabled"}[verb]
	if changed {
		fmt.Fprintf(w, "%s %s in the desired state; nothing changed on the engine yet.\n", what, past)
		return
	}
	fmt.Fprintf(w, "%s was already %s; nothing was changed.\n", what, past)
}

// showNextPlan prints the stack's plan after a lifecycle change and says
// how to apply it. When the engine cannot be planned against, the change
// stands and a note says so.
func showNextPlan(ctx context.Context, app *App, cfg config.Config, st *state.Store, cmd *cobra.Command, name, kind string) error {
	out := cmd.OutOrStdout()
	sp, err := planWith(ctx, app, cfg, st, name)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "The change is saved, but its plan cannot be shown now: %v\nShow it later with: devarch-controller plan %s\n", err, name)
		return nil
	}
	defer func() { _ = sp.rt.Close() }()
	if kind != "" {
		fmt.Fprintf(out, "\nIts %s plan:\n", kind)
	} else {
		fmt.Fprintln(out)
	}
	if err := sp.plan.WriteText(out, plan.TextOptions{Color: isTerminal(out)}); err != nil {
		return err
	}
	if !sp.plan.Empty() {
		fmt.Fprintf(out, "\nApply it with: devarch-controller apply %s\n", name)
	}
	return nil
}

// confirmName asks the user to type name, like the dashboard's typed-name
// confirmation.
func confirmName(in io.Reader, out io.Writer, verb, name string) error {
	fmt.Fprintf(out, "Type the stack's name (%s) to %s it: ", name, verb)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != name {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s cancelled: the name typed was not %q; nothing was changed (use --yes to skip the question)", verb, name)}
	}
	return nil
}

func newStackOrphansCommand(app *App) *cobra.Command {
	var remove, yes bool
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "orphans",
		Short: "List (or remove) labeled containers and networks whose stack is not in this database",
		Long: "List the containers and networks carrying this controller's labels whose stack id is not a\n" +
			"stack of this database (left by another database, or by a stack removed since). With --remove,\n" +
			"print the removal plan, ask for 'yes' (or --yes), then remove them: containers (with their\n" +
			"anonymous volumes) first, then networks. Each is checked again just before it is removed.\n" +
			"Orphans are never removed otherwise; a new stack adopts an orphaned network of its name\n" +
			"that has no container attached.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				rt, err := openRuntime(ctx, app, cfg)
				if err != nil {
					return err
				}
				defer func() { _ = rt.Close() }()
				orphans, err := findOrphans(ctx, st, rt)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if !remove {
					if output.json() {
						return writeJSON(out, orphans)
					}
					return writeOrphans(out, orphans)
				}
				return removeOrphans(ctx, app, st, rt, orphans, out, yes)
			})
		},
	}
	output = addOutputFlag(cmd)
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the orphans after showing the plan and asking for 'yes'")
	cmd.Flags().BoolVar(&yes, "yes", false, "with --remove, do not ask for confirmation")
	return cmd
}

// findOrphans snapshots the engine and returns what no stack of st owns.
func findOrphans(ctx context.Context, st *state.Store, rt *deploy.Runtime) (deploy.Orphans, error) {
	snap, err := rt.NewObserver().Snapshot(ctx)
	if err != nil {
		return deploy.Orphans{}, fmt.Errorf("observe the engine: %w", err)
	}
	known, err := st.KnownStackIDs(ctx)
	if err != nil {
		return deploy.Orphans{}, err
	}
	return deploy.FindOrphans(snap, known), nil
}

func writeOrphans(w io.Writer, o deploy.Orphans) error {
	if o.Empty() {
		_, err := fmt.Fprintln(w, "No orphans: every labeled container and network belongs to a stack of this database.")
		return err
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "KIND\tNAME\tID\tSTACK ID\tSTATE")
	for _, c := range o.Containers {
		fmt.Fprintf(tw, "container\t%s\t%s\t%d\t%s\n", c.Name, c.ID, c.StackID, c.State)
	}
	for _, n := range o.Networks {
		fmt.Fprintf(tw, "network\t%s\t%s\t%d\t-\n", n.Name, n.ID, n.StackID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nRemove them with: devarch-controller stack orphans --remove")
	return err
}

func removeOrphans(ctx context.Context, app *App, st *state.Store, rt *deploy.Runtime, o deploy.Orphans, out io.Writer, yes bool) error {
	if o.Empty() {
		return writeOrphans(out, o)
	}
	fmt.Fprintln(out, "Orphans to remove:")
	for _, c := range o.Containers {
		fmt.Fprintf(out, "  - container %s (stack id %d, %s)\n", c.Name, c.StackID, c.State)
	}
	for _, n := range o.Networks {
		fmt.Fprintf(out, "  - network %s (stack id %d)\n", n.Name, n.StackID)
	}
	fmt.Fprintf(out, "\nPlan: %d to remove.\n", len(o.Containers)+len(o.Networks))
	if !yes {
		fmt.Fprint(out, "\nDo you want to remove them? Only 'yes' will be accepted: ")
		line, err := bufio.NewReader(app.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read confirmation: %w", err)
		}
		if strings.TrimSpace(line) != "yes" {
			return &ExitError{Code: ExitFailure, Err: errors.New("removal cancelled: the answer was not 'yes'; nothing was removed (use --yes to skip the question)")}
		}
	}
	known := func(ctx context.Context, id int64) (bool, error) {
		ids, err := st.KnownStackIDs(ctx)
		return ids[id], err
	}
	removed, err := rt.RemoveOrphans(ctx, o, known, 0)
	for _, r := range removed {
		fmt.Fprintf(out, "Removed %s\n", r)
	}
	if err != nil {
		return fmt.Errorf("remove orphans (%d removed before the failure): %w", len(removed), err)
	}
	fmt.Fprintf(out, "%d orphan(s) removed.\n", len(removed))
	return nil
}
