package config

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryKey keeps docs/configuration.md in step with the keys:
// each has a table row naming its environment variable and flag.
func TestDocsListEveryKey(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `") {
			key := strings.Trim(strings.Split(line, "|")[1], " `")
			rows[key] = line
		}
	}
	for _, f := range fields {
		row, ok := rows[f.key]
		if !ok {
			t.Errorf("docs/configuration.md has no table row for %s", f.key)
			continue
		}
		if !strings.Contains(row, "`"+EnvVar(f.key)+"`") {
			t.Errorf("row for %s does not name %s", f.key, EnvVar(f.key))
		}
		if !f.noFlag && !strings.Contains(row, "`--"+FlagName(f.key)+"`") {
			t.Errorf("row for %s does not name --%s", f.key, FlagName(f.key))
		}
	}
	if len(rows) != len(fields) {
		t.Errorf("docs list %d keys; the code has %d", len(rows), len(fields))
	}
}
