package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/state"
)

func newApplyCommand(app *App) *cobra.Command {
	var autoApprove bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply STACK",
		Short: "Show a stack's plan, ask for confirmation, and have the controller apply it",
		Long: "Compute the stack's plan and show it; after confirmation (or --auto-approve) file an approval\n" +
			"carrying the plan's staleness token, then follow the running controller (devarch-controller\n" +
			"serve) as it applies it, printing per-container progress. The exit code is 0 only when the\n" +
			"approval succeeded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sp, err := planStack(ctx, app, cfg, args[0], cmd.CommandPath())
			if err != nil {
				return err
			}
			defer sp.close()
			st, p := sp.store, sp.plan
			out := cmd.OutOrStdout()
			if err := p.WriteText(out, plan.TextOptions{Color: isTerminal(out)}); err != nil {
				return err
			}
			if p.Empty() {
				return nil
			}
			if !autoApprove {
				if err := confirm(app.in, out); err != nil {
					return err
				}
			}
			a, err := fileApproval(ctx, app, cfg, st, sp.planner, sp.stack.Name, p.Token)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nApproval %d filed; waiting for the controller to apply it.\n", a.ID)
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			final, err := follow(ctx, st, a.ID, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nApproval %d %s: %s\n", final.ID, final.Status, final.Message)
			if final.Status != approval.Succeeded {
				if out := composeOutput(final); out != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "\n%s\n", out)
				}
				return &ExitError{Code: ExitFailure}
			}
			writeMismatches(cmd.ErrOrStderr(), final)
			return nil
		},
	}
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking for confirmation")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "give up following the apply after this long (0 = never)")
	return cmd
}

// fileApproval files an approval of stack's plan with token (the one the
// user confirmed) through the same use case as the API's
// POST /api/v1/stacks/{name}/apply: same checks, same errors, same audit,
// with the planner that made the plan the user saw.
func fileApproval(ctx context.Context, app *App, cfg config.Config, st *state.Store, pl *planner.Planner, stack, token string) (approval.Approval, error) {
	f := filing.New(filing.Deps{
		Desired: st, Locks: lock.New(st.Pool(), app.Logger()), Applying: st, Approvals: st,
		Planner: pl, Logger: app.Logger(),
	}, cfg.ApprovalTTL)
	return f.File(ctx, stack, token, requester())
}

// confirm asks for "yes" like terraform apply.
func confirm(in io.Reader, out io.Writer) error {
	fmt.Fprint(out, "\nDo you want to apply this plan? Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return &ExitError{Code: ExitFailure, Err: errors.New("apply cancelled: the answer was not 'yes'; nothing was changed (use --auto-approve to skip the question)")}
	}
	return nil
}

// requester names who filed an approval from the CLI: user@host.
func requester() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host + " (cli)"
}

// follow prints an approval's progress events until it reaches a final
// status and returns it. It listens for NOTIFY and also polls every
// second, so a missed notification only delays output.
func follow(ctx context.Context, st *state.Store, id int64, out io.Writer) (approval.Approval, error) {
	notes, err := st.Listen(ctx, state.ChannelApprovalEvents, state.ChannelApprovals)
	if err != nil {
		return approval.Approval{}, err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	started, hinted := time.Now(), false
	seq := 0
	for {
		events, err := st.ApprovalEvents(ctx, id, seq)
		if err != nil {
			return approval.Approval{}, err
		}
		for _, e := range events {
			seq = e.Seq
			fmt.Fprintf(out, "  %-40s %-12s %s\n", e.Container, e.Action, e.Message)
		}
		a, err := st.Approval(ctx, id)
		if err != nil {
			return approval.Approval{}, err
		}
		if a.Status.Final() {
			return a, nil
		}
		if a.Status == approval.Pending && !hinted && time.Since(started) > 10*time.Second {
			hinted = true
			fmt.Fprintln(out, "  still pending: is a controller (devarch-controller serve) running against this database?")
		}
		select {
		case <-ctx.Done():
			return approval.Approval{}, fmt.Errorf("stopped following approval %d (it is %s and continues without this command): %w", id, a.Status, ctx.Err())
		case <-notes:
		case <-tick.C:
		}
	}
}

// writeMismatches warns, one line each, of the differences the
// controller found between what the approval's plan predicted and the
// engine after the apply (see plan.Verify); nothing when there are none.
func writeMismatches(w io.Writer, a approval.Approval) {
	var r struct {
		Mismatches []plan.Mismatch `json:"mismatches"`
	}
	if len(a.Result) == 0 || json.Unmarshal(a.Result, &r) != nil || len(r.Mismatches) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarning: the engine after the apply differs from what the plan predicted (%d):\n", len(r.Mismatches))
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "  %s %s: %s\n", m.Kind, m.Instance, m.Detail)
	}
	fmt.Fprintln(w, "Run devarch-controller plan to see what is left to change.")
}

// composeOutput extracts compose's error text from a failed approval.
func composeOutput(a approval.Approval) string {
	var r struct {
		ComposeOutput string `json:"compose_output"`
	}
	if len(a.Result) > 0 && json.Unmarshal(a.Result, &r) == nil {
		return r.ComposeOutput
	}
	return ""
}
