package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema migrations and set up the installation (every command also does this)",
		Long: "Bring the database schema up to date. On a new database it also creates the installation key\n" +
			"(see \"key show\") and records this configuration's state_dir as the installation's host\n" +
			"paths; serve records its own state_dir at every start. Every command does this first.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			if err := migrate(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Database schema is up to date.")
			return nil
		},
	}
}
