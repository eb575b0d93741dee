package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/state"
)

func newApprovalsCommand(app *App) *cobra.Command {
	var output *outputFlag
	var limit int
	cmd := &cobra.Command{
		Use:   "approvals [STACK]",
		Short: "List approvals, newest first (of one stack, or of all)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				var stackID int64
				if len(args) == 1 {
					s, err := st.Stack(ctx, args[0])
					if err != nil {
						return err
					}
					stackID = s.ID
				}
				list, err := st.Approvals(ctx, stackID, limit)
				if err != nil {
					return err
				}
				if output.json() {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"approvals": list})
				}
				return writeTable(cmd.OutOrStdout(), "ID\tSTACK\tSTATUS\tREQUESTED BY\tCREATED\tDURATION\tMESSAGE", list,
					func(a approval.Approval) []any {
						d := "-"
						if a.Duration() > 0 {
							d = a.Duration().Round(time.Millisecond).String()
						}
						return []any{a.ID, a.Stack, a.Status, a.RequestedBy, a.CreatedAt.Local().Format(time.DateTime), d, a.Message}
					})
			})
		},
	}
	output = addOutputFlag(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many approvals")
	return cmd
}
