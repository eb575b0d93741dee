package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// runIn is run with stdin.
func runIn(t *testing.T, stdin string, args []string, env map[string]string) result {
	t.Helper()
	full := map[string]string{"HOME": "/home/tester"}
	for k, v := range env {
		full[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := full[k]; return v, ok }
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, "v1.2.3", WithStreams(strings.NewReader(stdin), &out, &errOut), WithLookupEnv(lookup))
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// TestLifecycleCommands drives stack delete / disable / enable, the
// instance commands and stack orphans against PostgreSQL and the engine.
func TestLifecycleCommands(t *testing.T) {
	testenv.Docker(t)
	env := map[string]string{
		"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t),
		"DEVARCH_STATE_DIR":    t.TempDir(),
		"DEMO_API_TOKEN":       "demo-canary-31c7a",
	}
	if r := runIn(t, "", []string{"catalog", "import", repoPath(t, "examples/templates")}, env); r.code != 0 {
		t.Fatalf("catalog import: %s", r.stderr)
	}
	name := testenv.UniqueName("cli-life-")
	body, err := os.ReadFile(repoPath(t, "examples/stacks/demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(file, bytes.Replace(body, []byte("name: demo\n"), []byte("name: "+name+"\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runIn(t, "", []string{"stack", "import", file}, env); r.code != 0 {
		t.Fatalf("stack import: %s", r.stderr)
	}

	steps := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"delete unknown", "", []string{"stack", "delete", "nope", "--yes"}, 1, nil, []string{`stack "nope" not found`}},
		{"delete without the typed name", "not-it\n", []string{"stack", "delete", name}, 1, nil, []string{"delete cancelled", "nothing was changed"}},
		{"still live", "", []string{"stack", "list"}, 0, []string{name, "active"}, nil},
		{"disable", "", []string{"stack", "disable", name}, 0, []string{"Stack " + name + " disabled in the desired state"}, nil},
		{"disable again", "", []string{"stack", "disable", name}, 0, []string{"was already disabled"}, nil},
		{"enable", "", []string{"stack", "enable", name}, 0, []string{"enabled in the desired state", "Plan: 3 to add"}, nil},
		{"instance disable", "", []string{"instance", "disable", name, "cache"}, 0, []string{"Instance cache of stack " + name + " disabled", "Plan: 2 to add"}, nil},
		{"instance enable", "", []string{"instance", "enable", name, "cache"}, 0, []string{"Plan: 3 to add"}, nil},
		{"instance delete refused", "", []string{"instance", "delete", name, "api"}, 1, nil, []string{"web"}},
		{"instance delete", "", []string{"instance", "delete", name, "cache"}, 0, []string{"Instance cache of stack " + name + " deleted", "Plan: 2 to add"}, nil},
		{"instance of unknown stack", "", []string{"instance", "enable", "nope", "web"}, 1, nil, []string{`"nope"`}},
		{"delete", name + "\n", []string{"stack", "delete", name, "--volumes"}, 0, []string{"deleted from the desired state", "Its removal plan", "No changes"}, nil},
		{"deleted", "", []string{"stack", "list"}, 0, []string{name, "deleting"}, nil},
		{"delete again", "", []string{"stack", "delete", name, "--yes"}, 0, []string{"was already deleted"}, nil},
		{"disable a deleting stack", "", []string{"stack", "disable", name}, 1, nil, []string{"is deleted and its removal not applied yet"}},
	}
	for _, s := range steps {
		r := runIn(t, s.stdin, s.args, env)
		if r.code != s.code {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, r.code, s.code, r.stdout, r.stderr)
		}
		for _, want := range s.stdout {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, want, r.stdout)
			}
		}
		for _, want := range s.stderr {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, want, r.stderr)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "demo-canary-31c7a") {
			t.Errorf("%s: output holds the secret", s.name)
		}
	}

	// Every change above stored a revision naming the user, the delete
	// first; the deleted stack's history is still listed.
	r := runIn(t, "", []string{"stack", "history", name, "-o", "json"}, env)
	var hist []historyEntry
	if err := json.Unmarshal([]byte(r.stdout), &hist); r.code != 0 || err != nil || len(hist) == 0 || hist[0].Kind != "delete" {
		t.Fatalf("stack history of the deleted stack: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	var kinds []string
	for _, h := range hist {
		kinds = append(kinds, h.Kind)
		if h.Author != requester() {
			t.Errorf("revision %d (%s) by %q, want %q", h.Number, h.Kind, h.Author, requester())
		}
	}
	if want := "delete,delete,enable,disable,enable,disable,import"; strings.Join(kinds, ",") != want {
		t.Errorf("revisions %s, want %s", strings.Join(kinds, ","), want)
	}

	r = runIn(t, "", []string{"stack", "orphans", "-o", "json"}, env)
	var orphans struct {
		Containers []any `json:"containers"`
		Networks   []any `json:"networks"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &orphans) != nil || orphans.Containers == nil || orphans.Networks == nil {
		t.Errorf("stack orphans -o json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, "no\n", []string{"stack", "orphans", "--remove"}, env)
	if r.code == 0 && !strings.Contains(r.stdout, "No orphans") {
		t.Errorf("stack orphans --remove answered no: exit 0\n%s", r.stdout)
	}
}
