package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/state"
)

// withStore runs body with the database migrated and a store open (named
// after cmd, e.g. "devarch-controller key show", in pg_stat_activity),
// and closes the store after.
func withStore(app *App, cmd *cobra.Command, body func(ctx context.Context, st *state.Store) error) error {
	cfg, err := app.Config()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := openStore(ctx, cfg, cmd.CommandPath())
	if err != nil {
		return err
	}
	defer st.Close()
	return body(ctx, st)
}

// outputFlag is the -o/--output flag of a command that prints a table or
// JSON.
type outputFlag struct{ format string }

// addOutputFlag registers -o/--output (text or json, text by default) on cmd.
func addOutputFlag(cmd *cobra.Command) *outputFlag {
	o := &outputFlag{}
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text or json")
	return o
}

// check says what to do when the format is neither text nor json.
func (o *outputFlag) check() error {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("output format %q is not supported; use text or json", o.format)
	}
	return nil
}

// json reports whether JSON was asked for.
func (o *outputFlag) json() bool { return o.format == "json" }

// writeJSON writes v to w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTabWriter aligns the tab-separated columns written to it on w; the
// caller flushes it.
func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// writeTable writes header and a line per item, the cells row returns
// (each as %v), in aligned columns.
func writeTable[T any](w io.Writer, header string, items []T, row func(T) []any) error {
	tw := newTabWriter(w)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		for i, cell := range row(it) {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
