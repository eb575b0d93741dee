package cli

import (
	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/serve"
)

func newServeCommand(app *App) *cobra.Command {
	var pullPolicy string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the controller: reconcile every stack, apply approved plans, serve the API and dashboard",
		Long: "Run the reconcile loop and the HTTP server (API, dashboard, /metrics). Several replicas may run\n" +
			"against one database. SIGTERM stops taking approvals, lets an in-flight apply finish within\n" +
			"shutdown_timeout, releases its locks and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			serve.LimitMemory(cmd.Context(), app.Logger())
			return serve.Run(cmd.Context(), serve.Options{
				Config: cfg, Paths: paths(cfg), PullPolicy: pullPolicy, Version: app.Version(), Logger: app.Logger(),
			})
		},
	}
	cmd.Flags().StringVar(&pullPolicy, "pull-policy", "missing", "compose pull policy for applies: missing, never or always")
	return cmd
}
