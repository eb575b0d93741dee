package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newApprovalsCommand(app *App) *cobra.Command {
	var output string
	var limit int
	cmd := &cobra.Command{
		Use:   "approvals [STACK]",
		Short: "List approvals, newest first (of one stack, or of all)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("output format %q is not supported; use text or json", output)
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg, "devarch-controller approvals")
			if err != nil {
				return err
			}
			defer st.Close()
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
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"approvals": list})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTACK\tSTATUS\tREQUESTED BY\tCREATED\tDURATION\tMESSAGE")
			for _, a := range list {
				d := "-"
				if a.Duration() > 0 {
					d = a.Duration().Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Stack, a.Status, a.RequestedBy,
					a.CreatedAt.Local().Format(time.DateTime), d, a.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many approvals")
	return cmd
}
