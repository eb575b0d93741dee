package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/config"
)

func newConfigCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the effective configuration",
		// Runnable so that an unknown subcommand is an error, not help.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConfigPrintCommand(app))
	return SkipConfig(cmd)
}

func newConfigPrintCommand(app *App) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration with secrets redacted",
		Long: "Print the configuration after merging defaults, the --config file, DEVARCH_*\n" +
			"environment variables and flags. Secrets print as " + config.Redacted + ".\n\n" +
			"The configuration is validated after printing: if it is invalid, every\n" +
			"problem is reported and the exit code is 1.",
		Example: "  devarch-controller config print\n" +
			"  DEVARCH_WORKERS=4 devarch-controller config print -o json --config /etc/devarch/controller.yml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(config.OutputFormats(), output) {
				return fmt.Errorf("unknown output format %q; use -o yaml or -o json", output)
			}
			cfg, err := app.load()
			if err != nil {
				return err
			}
			if err := cfg.Print(cmd.OutOrStdout(), output); err != nil {
				return err
			}
			return cfg.Validate()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}
