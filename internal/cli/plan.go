package cli

import (
	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/plan"
)

// ExitChanges is plan --detailed-exitcode's code for "there are changes"
// (terraform's convention: 0 converged, 1 error, 2 changes).
const ExitChanges = 2

func newPlanCommand(app *App) *cobra.Command {
	var output *outputFlag
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan STACK",
		Short: "Show what apply would change in a stack (desired state from PostgreSQL, actual from Docker)",
		Long: "Compute the stack's plan: + add, ~ modify (with per-field detail and where each change\n" +
			"comes from: user, template or runtime), - remove. With --detailed-exitcode the exit code is\n" +
			"0 when the stack is up to date, 2 when there are changes and 1 on error.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			sp, err := planStack(cmd.Context(), app, cfg, args[0], cmd.CommandPath())
			if err != nil {
				return err
			}
			defer sp.close()
			p := sp.plan
			out := cmd.OutOrStdout()
			if output.json() {
				err = p.WriteJSON(out)
			} else {
				err = p.WriteText(out, plan.TextOptions{Color: isTerminal(out)})
			}
			if err != nil {
				return err
			}
			if detailed && !p.Empty() {
				return &ExitError{Code: ExitChanges}
			}
			return nil
		},
	}
	output = addOutputFlag(cmd)
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when up to date, 2 when there are changes, 1 on error")
	return cmd
}
