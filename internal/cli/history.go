package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/state"
)

// historyEntry is one revision as `stack history -o json` prints it.
type historyEntry struct {
	Number     int       `json:"number"`
	Author     string    `json:"author"`
	Kind       string    `json:"kind"`
	CreatedAt  time.Time `json:"created_at"`
	RevertedTo *int      `json:"reverted_to,omitempty"`
	Diff       plan.Plan `json:"diff"`
}

func newStackHistoryCommand(app *App) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a stack's desired-state revisions: number, kind, who, when and what changed (secrets redacted)",
		Long: "List every recorded change to a stack's desired state, newest first: imports, edits,\n" +
			"enable/disable, deletes of instances, reverts and template changes that affect it. Each\n" +
			"revision shows what changed in the plan's format (-o json prints the full diff). Restore one\n" +
			"with \"devarch-controller stack revert NAME --to N\". A deleted stack's history stays listed\n" +
			"under its name, the delete first, until a new stack takes the name.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				revs, err := st.Revisions(ctx, args[0])
				if err != nil {
					return err
				}
				entries := make([]historyEntry, len(revs))
				for i, r := range revs {
					entries[i] = historyEntry{Number: r.Number, Author: r.Author, Kind: r.Kind, CreatedAt: r.CreatedAt.UTC(), RevertedTo: r.RevertedTo}
					if err := json.Unmarshal(r.Diff, &entries[i].Diff); err != nil {
						return fmt.Errorf("read revision %d: %w", r.Number, err)
					}
				}
				if output.json() {
					return writeJSON(cmd.OutOrStdout(), entries)
				}
				if len(entries) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Stack %s has no recorded revision yet.\n", args[0])
					return nil
				}
				return writeHistory(cmd.OutOrStdout(), entries)
			})
		},
	}
	output = addOutputFlag(cmd)
	return cmd
}

// writeHistory prints a table of revisions, then each one's changes.
func writeHistory(w io.Writer, entries []historyEntry) error {
	err := writeTable(w, "REVISION\tKIND\tAUTHOR\tWHEN\tCHANGES", entries, func(e historyEntry) []any {
		kind := e.Kind
		if e.RevertedTo != nil {
			kind += " to " + strconv.Itoa(*e.RevertedTo)
		}
		s := e.Diff.Summary
		return []any{e.Number, kind, e.Author, e.CreatedAt.Local().Format(time.DateTime), fmt.Sprintf("+%d ~%d -%d", s.Add, s.Modify, s.Remove)}
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(w, "\nRevision %d (%s by %s):\n", e.Number, e.Kind, e.Author)
		for _, c := range e.Diff.Changes {
			fmt.Fprintf(w, "  %s instance %s\n", c.Action.Symbol(), c.Instance)
			for _, f := range c.Fields {
				fmt.Fprintf(w, "      %s: %s -> %s (%s)\n", f.Path, orNone(f.Old), orNone(f.New), f.Source)
			}
		}
		if len(e.Diff.Changes) == 0 {
			fmt.Fprintln(w, "  no change to any instance's container")
		}
	}
	return nil
}

func orNone(v *string) string {
	if v == nil {
		return "(none)"
	}
	return strconv.Quote(*v)
}

func newStackRevertCommand(app *App) *cobra.Command {
	var (
		to     int
		dryRun bool
		output *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "revert NAME --to N",
		Short: "Restore revision N of a stack as its desired state (a new revision); then plan and apply as usual",
		Long: "Restore the stack's own definition of revision N (instances, overrides with their secrets as\n" +
			"stored, enabled flags, variables) as its desired state. It is stored as a new revision of kind\n" +
			"revert; templates are the catalog's current ones. Nothing changes on the engine until the\n" +
			"change is planned and applied (\"devarch-controller apply NAME\"). --dry-run prints the change\n" +
			"and writes nothing.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if to < 1 {
				return errors.New("name the revision to restore with --to N (list them with \"devarch-controller stack history NAME\")")
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				res, err := st.RevertStack(state.WithAuthor(ctx, requester()), args[0], to, state.EditOptions{DryRun: dryRun})
				if err != nil {
					return fmt.Errorf("revert stack %q to revision %d: nothing was written:\n%w", args[0], to, err)
				}
				out := cmd.OutOrStdout()
				if output.json() {
					return writeJSON(out, map[string]any{"stack": args[0], "dry_run": dryRun, "changed": res.Changed, "revision": res.Revision, "preview": res.Preview})
				}
				if res.Preview != nil {
					if err := res.Preview.WriteText(out, plan.TextOptions{Color: isTerminal(out)}); err != nil {
						return err
					}
				}
				switch {
				case dryRun:
					fmt.Fprintf(out, "Dry run: nothing was written. Stack %s is at revision %d.\n", args[0], res.Revision)
				case !res.Changed:
					fmt.Fprintf(out, "No changes: stack %s already matches revision %d.\n", args[0], to)
				default:
					fmt.Fprintf(out, "Stack %s is now at revision %d (revert to %d). Review and apply it with \"devarch-controller apply %s\".\n", args[0], res.Revision, to, args[0])
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "the revision to restore (see stack history)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the change and write nothing")
	output = addOutputFlag(cmd)
	return cmd
}

// previewImport prints what importing the file would change, writing
// nothing.
func previewImport(p state.ImportPreview, warnings []string, out io.Writer, asJSON bool) error {
	p.Plan.Warnings = append(append([]string{}, warnings...), p.Plan.Warnings...)
	if asJSON {
		return p.Plan.WriteJSON(out)
	}
	if err := p.Plan.WriteText(out, plan.TextOptions{Color: isTerminal(out)}); err != nil {
		return err
	}
	verb := "would update"
	if p.Create {
		verb = "would create"
	}
	fmt.Fprintf(out, "Dry run: nothing was written; the import %s stack %s (now at revision %d).\n", verb, p.Plan.Stack, p.Revision)
	return nil
}
