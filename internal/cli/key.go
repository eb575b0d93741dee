package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
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
	var output string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List the installation keys (id, created, retired), never their values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("output format %q is not supported; use text or json", output)
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg, "devarch-controller key show")
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.Keys(ctx)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"keys": keys})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tRETIRED")
			for _, k := range keys {
				status, retired := "current", "-"
				if !k.Current() {
					status, retired = "retired", k.RetiredAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, status, k.CreatedAt.UTC().Format(time.RFC3339), retired)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
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
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg, "devarch-controller key rotate")
			if err != nil {
				return err
			}
			defer st.Close()
			created, retired, err := st.RotateKey(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Installation key %d created; key %d retired.\n", created.ID, retired.ID)
			fmt.Fprintln(out, "Plans and tokens made before now are stale: pending approvals will end stale; generate the plans again.")
			fmt.Fprintln(out, "Containers whose labels hold digests of secrets or config files will show as re-keyed; apply their stacks to replace the old digests.")
			return nil
		},
	}
}
