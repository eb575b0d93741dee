package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func newCatalogCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Manage the template catalog"}
	cmd.AddCommand(newCatalogImportCommand(app), newCatalogListCommand(app))
	return cmd
}

func newCatalogImportCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "import PATH...",
		Short: "Import compose files (files or folders holding <category>/<name>/compose.yml) as templates",
		Long: "Import compose files in devarch's service format as catalog templates. Folders are searched\n" +
			"for compose.yml and compose.yaml files. Re-importing unchanged files changes nothing.\n" +
			"A broken file is reported and skipped; the others still import (the exit code is then 1).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
				counts := map[string]int{}
				failed := 0
				results := catalog.LoadPaths(args...)
				for _, fr := range results {
					if fr.Err != nil {
						failed++
						fmt.Fprintf(errOut, "error: %v\n", fr.Err)
						continue
					}
					for _, w := range fr.Result.Warnings {
						fmt.Fprintf(errOut, "warning: %s\n", w)
					}
					t := fr.Result.Template
					outcome, err := st.UpsertTemplate(state.WithAuthor(ctx, requester()), t, catalog.Digest(t))
					if err != nil {
						failed++
						fmt.Fprintf(errOut, "error: %s: store template %q: %v\n", fr.Path, t.Name, err)
						continue
					}
					counts[outcome.Action]++
				}
				total := counts[state.ActionCreated] + counts[state.ActionUpdated] + counts[state.ActionUnchanged]
				fmt.Fprintf(out, "Imported %d templates: %d created, %d updated, %d unchanged (%d changed).\n",
					total, counts[state.ActionCreated], counts[state.ActionUpdated], counts[state.ActionUnchanged],
					counts[state.ActionCreated]+counts[state.ActionUpdated])
				fmt.Fprint(out, catalog.Summarize(results))
				if failed > 0 {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d file(s) could not be imported; see the errors above", failed)}
				}
				return nil
			})
		},
	}
}

func newCatalogListCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List catalog templates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				ts, err := st.Templates(ctx)
				if err != nil {
					return err
				}
				return writeTable(cmd.OutOrStdout(), "NAME\tCATEGORY\tIMAGE", ts, func(t spec.Template) []any {
					return []any{t.Name, t.Category, t.Spec.Image}
				})
			})
		},
	}
}
