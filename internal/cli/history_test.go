package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// TestImportDryRunHistoryRevert runs stack import --dry-run, stack history
// and stack revert the way a user does, against a real database.
func TestImportDryRunHistoryRevert(t *testing.T) {
	ctx := context.Background()
	const token = "cli-canary-token-9d2e"
	env := map[string]string{
		"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t),
		"DEVARCH_STATE_DIR":    t.TempDir(),
		"DEMO_API_TOKEN":       token,
	}
	var outputs []string
	do := func(args []string, env map[string]string) result {
		t.Helper()
		r := run(t, ctx, args, env)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	if r := do([]string{"catalog", "import", repoPath(t, "examples/templates")}, env); r.code != 0 {
		t.Fatalf("catalog import: %s", r.stderr)
	}
	demo := repoPath(t, "examples/stacks/demo.yaml")
	r := do([]string{"stack", "import", "--dry-run", demo}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "Plan: 3 to add, 0 to modify, 0 to remove.") || !strings.Contains(r.stdout, "Dry run: nothing was written; the import would create stack demo") {
		t.Fatalf("dry run of a new stack: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = do([]string{"stack", "list"}, env); strings.Contains(r.stdout, "demo") {
		t.Fatalf("the dry run created the stack:\n%s", r.stdout)
	}
	if r = do([]string{"stack", "import", demo}, env); r.code != 0 || !strings.Contains(r.stdout, "Stored as revision 1") {
		t.Fatalf("import: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(changed, []byte(strings.Replace(string(data), "LOG_LEVEL: debug", "LOG_LEVEL: info", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = do([]string{"stack", "import", "--dry-run", "-o", "json", changed}, env)
	var p struct {
		Summary map[string]int `json:"summary"`
		Changes []struct {
			Instance string `json:"instance"`
			Fields   []struct {
				Path string  `json:"path"`
				New  *string `json:"new"`
			} `json:"fields"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); r.code != 0 || err != nil {
		t.Fatalf("dry run -o json: code %d %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if len(p.Changes) != 1 || p.Changes[0].Instance != "api" || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "env.LOG_LEVEL" {
		t.Fatalf("dry run: %s, want exactly api's env.LOG_LEVEL", r.stdout)
	}
	if r = do([]string{"stack", "history", "demo"}, env); strings.Count(r.stdout, "\nRevision ") != 1 {
		t.Fatalf("the dry run stored a revision:\n%s", r.stdout)
	}
	if r = do([]string{"stack", "import", changed}, env); r.code != 0 || !strings.Contains(r.stdout, "Stored as revision 2") {
		t.Fatalf("second import: %s\n%s", r.stdout, r.stderr)
	}

	r = do([]string{"stack", "history", "demo"}, env)
	for _, want := range []string{"REVISION", "2         import", `env.LOG_LEVEL: "debug" -> "info" (user)`, "(cli)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("history lacks %q:\n%s", want, r.stdout)
		}
	}
	r = do([]string{"stack", "revert", "demo", "--to", "1"}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "Stack demo is now at revision 3 (revert to 1).") || !strings.Contains(r.stdout, "Plan: 0 to add, 1 to modify, 0 to remove.") {
		t.Fatalf("revert: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = do([]string{"stack", "history", "demo", "-o", "json"}, env)
	var hist []historyEntry
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || len(hist) != 3 || hist[0].Kind != "revert" || *hist[0].RevertedTo != 1 {
		t.Fatalf("history -o json: %v\n%s", err, r.stdout)
	}
	if r = do([]string{"stack", "revert", "demo", "--to", "9"}, env); r.code == 0 || !strings.Contains(r.stderr, "revision 9") {
		t.Errorf("revert to an unknown revision: code %d\n%s", r.code, r.stderr)
	}
	for _, out := range outputs {
		if strings.Contains(out, token) {
			t.Errorf("the output shows the secret: %s", out)
		}
	}
}
