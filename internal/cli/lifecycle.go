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
				engines, err := openEngines(ctx, app, cfg, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				defer func() {
					for _, rt := range engines {
						_ = rt.Close()
					}
				}()
				orphans, err := findOrphans(ctx, st, cfg, engines)
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
				return removeOrphans(ctx, app, st, engines, orphans, out, yes)
			})
		},
	}
	output = addOutputFlag(cmd)
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the orphans after showing the plan and asking for 'yes'")
	cmd.Flags().BoolVar(&yes, "yes", false, "with --remove, do not ask for confirmation")
	return cmd
}

// openEngines connects to every engine of the configuration (its engines
// section, else docker_host) that answers, by name. An engine that does
// not answer is reported on warn and left out; none answering is an
// error.
func openEngines(ctx context.Context, app *App, cfg config.Config, warn io.Writer) (map[string]*deploy.Runtime, error) {
	out := map[string]*deploy.Runtime{}
	var down []string
	for _, e := range cfg.EngineList() {
		es := deploy.EngineSpec{Name: e.Name, Host: e.Host}
		if e.TLS != nil {
			es.TLSCA, es.TLSCert, es.TLSKey = e.TLS.CA, e.TLS.Cert, e.TLS.Key
		}
		rt, err := deploy.NewEngineRuntime(es, app.Logger())
		if err == nil {
			err = rt.Ping(ctx)
			if err != nil {
				_ = rt.Close()
			}
		}
		if err != nil {
			down = append(down, fmt.Sprintf("engine %q at %s does not answer (%v)", e.Name, e.Host, err))
			continue
		}
		out[e.Name] = rt
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s; start it or correct its host (--docker-host, or the engines section of the config file)", strings.Join(down, "; "))
	}
	for _, d := range down {
		fmt.Fprintf(warn, "Warning: %s; its orphans are not listed.\n", d)
	}
	return out, nil
}

// findOrphans snapshots every engine and returns what no stack of st
// owns, each orphan naming its engine, in the configuration's order.
func findOrphans(ctx context.Context, st *state.Store, cfg config.Config, engines map[string]*deploy.Runtime) (deploy.Orphans, error) {
	known, err := st.KnownStackIDs(ctx)
	if err != nil {
		return deploy.Orphans{}, err
	}
	all := deploy.Orphans{Containers: []deploy.OrphanContainer{}, Networks: []deploy.OrphanNetwork{}}
	for _, name := range cfg.EngineNames() {
		rt, ok := engines[name]
		if !ok {
			continue
		}
		snap, err := rt.NewObserver().Snapshot(ctx)
		if err != nil {
			return deploy.Orphans{}, fmt.Errorf("observe engine %q: %w", name, err)
		}
		o := deploy.FindOrphans(snap, known)
		for _, c := range o.Containers {
			c.Engine = name
			all.Containers = append(all.Containers, c)
		}
		for _, n := range o.Networks {
			n.Engine = name
			all.Networks = append(all.Networks, n)
		}
	}
	return all, nil
}

func writeOrphans(w io.Writer, o deploy.Orphans) error {
	if o.Empty() {
		_, err := fmt.Fprintln(w, "No orphans: every labeled container and network belongs to a stack of this database.")
		return err
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "KIND\tENGINE\tNAME\tID\tSTACK ID\tSTATE")
	for _, c := range o.Containers {
		fmt.Fprintf(tw, "container\t%s\t%s\t%s\t%d\t%s\n", c.Engine, c.Name, c.ID, c.StackID, c.State)
	}
	for _, n := range o.Networks {
		fmt.Fprintf(tw, "network\t%s\t%s\t%s\t%d\t-\n", n.Engine, n.Name, n.ID, n.StackID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nRemove them with: devarch-controller stack orphans --remove")
	return err
}

func removeOrphans(ctx context.Context, app *App, st *state.Store, engines map[string]*deploy.Runtime, o deploy.Orphans, out io.Writer, yes bool) error {
	if o.Empty() {
		return writeOrphans(out, o)
	}
	fmt.Fprintln(out, "Orphans to remove:")
	for _, c := range o.Containers {
		fmt.Fprintf(out, "  - container %s on engine %s (stack id %d, %s)\n", c.Name, c.Engine, c.StackID, c.State)
	}
	for _, n := range o.Networks {
		fmt.Fprintf(out, "  - network %s on engine %s (stack id %d)\n", n.Name, n.Engine, n.StackID)
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
	total := 0
	for name, rt := range engines {
		var mine deploy.Orphans
		for _, c := range o.Containers {
			if c.Engine == name {
				mine.Containers = append(mine.Containers, c)
			}
		}
		for _, n := range o.Networks {
			if n.Engine == name {
				mine.Networks = append(mine.Networks, n)
			}
		}
		if mine.Empty() {
			continue
		}
		removed, err := rt.RemoveOrphans(ctx, mine, known, 0)
		for _, r := range removed {
			fmt.Fprintf(out, "Removed %s on engine %s\n", r, name)
		}
		total += len(removed)
		if err != nil {
			return fmt.Errorf("remove orphans on engine %q (%d removed before the failure): %w", name, total, err)
		}
	}
	fmt.Fprintf(out, "%d orphan(s) removed.\n", total)
	return nil
}
