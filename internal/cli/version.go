package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// composeModule is the compose library whose version `version` reports.
const composeModule = "github.com/docker/compose/v5"

// versionInfo is what `version` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Compose  string `json:"compose,omitempty"`
	Commit   string `json:"commit,omitempty"`
}

func newVersionCommand(app *App) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of devarch-controller, Go and the compose library",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := readVersionInfo(app.Version())
			switch output.format {
			case "text":
				return info.writeText(cmd.OutOrStdout())
			case "json":
				return writeJSON(cmd.OutOrStdout(), info)
			default:
				return fmt.Errorf("unknown output format %q; use -o text or -o json", output.format)
			}
		},
	}
	output = addOutputFlag(cmd)
	return SkipConfig(cmd)
}

// readVersionInfo completes version with what the Go build recorded. The
// compose version appears once a linked package imports compose.
func readVersionInfo(version string) versionInfo {
	info := versionInfo{
		Version:  version,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version // go install module@version
	}
	for _, dep := range bi.Deps {
		if dep.Path == composeModule {
			info.Compose = dep.Version
			if dep.Replace != nil {
				info.Compose = dep.Replace.Version
			}
		}
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if info.Commit != "" && modified {
		info.Commit += " (modified)"
	}
	return info
}

func (v versionInfo) writeText(w io.Writer) error {
	lines := [][2]string{{"version", v.Version}, {"go", v.Go}, {"platform", v.Platform}, {"compose", v.Compose}, {"commit", v.Commit}}
	for _, l := range lines {
		if l[1] == "" {
			continue
		}
		if _, err := fmt.Fprintf(w, "%-9s %s\n", l[0]+":", l[1]); err != nil {
			return fmt.Errorf("write version: %w", err)
		}
	}
	return nil
}
