package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/state"
)

func newMigrateCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema migrations (serve also does this on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			if err := state.Migrate(cmd.Context(), cfg.DatabaseURL); err != nil {
				return fmt.Errorf("migrate database: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Database schema is up to date.")
			return nil
		},
	}
}
