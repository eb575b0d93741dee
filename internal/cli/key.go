package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/state"
)

func newKeyCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Show or rotate the installation key that keys staleness tokens and label digests",
		Long: "The installation key is a random secret stored in the database (created by migrate). It keys\n" +
			"every staleness token and every digest of a secret env value or config file content that\n" +
			"the controller writes into container labels, so that nobody who reads them can test a\n" +
			"guessed secret offline. Its value is never shown. See SECURITY.md.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeyShowCommand(app), newKeyRotateCommand(app))
	return cmd
}

func newKeyShowCommand(app *App) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List the installation keys (id, created, retired), never their values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				keys, err := st.Keys(ctx)
				if err != nil {
					return err
				}
				if output.json() {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"keys": keys})
				}
				return writeTable(cmd.OutOrStdout(), "ID\tSTATUS\tCREATED\tRETIRED", keys, func(k state.KeyInfo) []any {
					status, retired := "current", "-"
					if !k.Current() {
						status, retired = "retired", k.RetiredAt.UTC().Format(time.RFC3339)
					}
					return []any{k.ID, status, k.CreatedAt.UTC().Format(time.RFC3339), retired}
				})
			})
		},
	}
	output = addOutputFlag(cmd)
	return cmd
}

func newKeyRotateCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Retire the installation key and create a new one",
		Long: "Retire the current installation key and create a new random one. Every staleness token made\n" +
			"before is stale from now on: pending approvals end stale and plans must be generated again.\n" +
			"Containers whose labels hold digests (secret env values, config files) are planned for\n" +
			"recreation, the plan saying they are re-keyed with unchanged values; apply them to replace\n" +
			"the old digests. Rotate when the key may have leaked (a copy of the database went astray).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				created, retired, err := st.RotateKey(ctx)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Installation key %d created; key %d retired.\n", created.ID, retired.ID)
				fmt.Fprintln(out, "Plans and tokens made before now are stale: pending approvals will end stale; generate the plans again.")
				fmt.Fprintln(out, "Containers whose labels hold digests of secrets or config files will show as re-keyed; apply their stacks to replace the old digests.")
				return nil
			})
		},
	}
}
