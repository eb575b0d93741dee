package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/stackfile"
	"github.com/devarch/devarch-controller/state"
)

// Export formats of stack export.
const (
	formatDevarch = "devarch"
	formatCompose = "compose"
)

// exportFlags are stack export's flags.
type exportFlags struct {
	format         string
	output         string
	secretsOut     string
	includeSecrets bool
}

func newStackExportCommand(app *App) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export NAME",
		Short: "Write a stack as a devarch.yml stack file, or as the compose file the controller applies",
		Long: "Write the stack's desired state as a devarch.yml version 1 stack file (--format devarch, the\n" +
			"default) that stack import reads back to the same desired state. Secret values are never in\n" +
			"it: they are ${SECRET:NAME} references, named on stderr; give them on import through the\n" +
			"secrets file or the environment (--secrets-out FILE writes such a secrets file, mode 0600).\n" +
			"\n" +
			"--format compose writes the compose project the controller applies (docker compose config\n" +
			"reads it; its services have the controller's config hashes). Secret values are ${VARIABLE}\n" +
			"references unless --include-secrets; --secrets-out FILE writes the .env file that gives\n" +
			"them, to put next to the compose file.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return withStore(app, cmd, func(ctx context.Context, st *state.Store) error {
				data, secrets, err := f.export(ctx, st, args[0], cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if err := f.write(cmd.OutOrStdout(), data); err != nil {
					return err
				}
				if f.secretsOut != "" {
					if err := writePrivate(f.secretsOut, secrets); err != nil {
						return fmt.Errorf("write secrets file: %w", err)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&f.format, "format", formatDevarch, "devarch (a devarch.yml stack file) or compose (the compose file the controller applies)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write the file here instead of standard output")
	cmd.Flags().StringVar(&f.secretsOut, "secrets-out", "", "also write the referenced secrets' values to this file (mode 0600): a secrets file for stack import, or a .env file for compose")
	cmd.Flags().BoolVar(&f.includeSecrets, "include-secrets", false, "compose format only: write secret values into the compose file instead of ${VARIABLE} references")
	return cmd
}

func (f exportFlags) check() error {
	switch f.format {
	case formatDevarch:
		if f.includeSecrets {
			return fmt.Errorf("--include-secrets applies to --format compose only: a devarch.yml stack file never holds secret values; use --secrets-out FILE to write them to a secrets file")
		}
	case formatCompose:
	default:
		return fmt.Errorf("unknown export format %q; the formats are %s and %s", f.format, formatDevarch, formatCompose)
	}
	return nil
}

// export returns the exported file and the content of --secrets-out;
// notes go to stderr.
func (f exportFlags) export(ctx context.Context, st *state.Store, name string, stderr io.Writer) ([]byte, []byte, error) {
	if f.format == formatCompose {
		d, err := planner.New(st, nil, planner.Options{}).Desired(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		c, err := project.Compose(d.Stack, d.Paths, f.includeSecrets)
		if err != nil {
			return nil, nil, fmt.Errorf("export stack %q as a compose file: %w", name, err)
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		if len(c.Variables) > 0 {
			fmt.Fprintf(stderr, "The compose file references secret values as variables: %s. Give them in a .env file next to it (--secrets-out .env writes one) or in the environment.\n", strings.Join(c.Variables, ", "))
		}
		return c.Data, c.EnvFile(), nil
	}
	s, err := st.Stack(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	e, err := stackfile.Export(s)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range e.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	if len(e.Secrets) > 0 {
		fmt.Fprintf(stderr, "The stack file references secrets: %s. Give them on import through the secrets file (--secrets-out FILE writes one) or the environment.\n", strings.Join(e.Secrets, ", "))
	}
	return e.Data, e.SecretsFile(), nil
}

func (f exportFlags) write(stdout io.Writer, data []byte) error {
	if f.output == "" {
		_, err := stdout.Write(data)
		return err
	}
	if f.includeSecrets {
		// The file holds secret values.
		if err := writePrivate(f.output, data); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(f.output, data, 0o644); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

// writePrivate writes a file only its owner can read: an existing file
// is emptied and made private before the data is written.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
