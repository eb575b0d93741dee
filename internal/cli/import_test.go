package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// repoPath returns a path relative to the repository root.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func corpus(t *testing.T, rel string) string {
	t.Helper()
	return testenv.Corpus(t, rel)
}

// TestImportCommandsAgainstPostgres runs the foundation's commands the way
// a user does, against a real database: catalog import of the whole corpus
// (twice), the shop export, the rejected export, stack show.
func TestImportCommandsAgainstPostgres(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{
		"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t),
		"DEVARCH_STATE_DIR":    t.TempDir(),
		"POSTGRES_PASSWORD":    "pg-canary-5f3a9",
		"APP_KEY":              "app-canary-77c1e",
	}
	r := run(t, ctx, []string{"catalog", "import", corpus(t, "devarch-services")}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "Imported 174 templates: 174 created, 0 updated, 0 unchanged (174 changed).") {
		t.Fatalf("first catalog import: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "services.php.build") || strings.Contains(r.stderr, "not supported") {
		t.Errorf("the corpus's keys are all supported now (php builds its image), yet:\n%s", r.stderr)
	}
	// The summary counts the keys the files use and names what is left.
	for _, want := range []string{"174 services in 174 files (0 refused).", "Keys used: container_name 174, ", "build 1", "Keys refused: none."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the import summary lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, ctx, []string{"catalog", "import", corpus(t, "devarch-services")}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "174 unchanged (0 changed)") {
		t.Fatalf("second catalog import must change nothing: code %d\n%s", r.code, r.stdout)
	}

	shop := corpus(t, "devarch-stacks/shop-export.yaml")
	r = run(t, ctx, []string{"stack", "import", shop}, env)
	if r.code != 1 || !strings.Contains(r.stderr, `template "node-api" is not in the catalog`) {
		t.Fatalf("importing before its templates exist must fail naming them: code %d\n%s", r.code, r.stderr)
	}
	if r = run(t, ctx, []string{"catalog", "import", repoPath(t, "examples/templates")}, env); r.code != 0 {
		t.Fatalf("example templates: %s", r.stderr)
	}
	r = run(t, ctx, []string{"stack", "import", shop}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "Stack shop-import") || strings.Count(r.stdout, ": created") != 4 {
		t.Fatalf("stack import: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, kept := range []string{"wires[0]", "domains[0]", "env_files[0]"} {
		if !strings.Contains(r.stderr, kept) {
			t.Errorf("no warning about %s:\n%s", kept, r.stderr)
		}
	}
	r = run(t, ctx, []string{"stack", "import", shop}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes: the stack already matches the file.") {
		t.Fatalf("re-import must change nothing: %s", r.stdout)
	}

	r = run(t, ctx, []string{"stack", "show", "shop-import", "-o", "json"}, env)
	if r.code != 0 {
		t.Fatalf("stack show: %s", r.stderr)
	}
	for _, canary := range []string{"pg-canary-5f3a9", "app-canary-77c1e"} {
		if strings.Contains(r.stdout, canary) {
			t.Fatalf("stack show leaks a secret:\n%s", r.stdout)
		}
	}
	var view struct {
		Instances []struct {
			Name      string `json:"name"`
			Effective struct {
				Image struct{ Value, Source string } `json:"image"`
				Env   []struct{ Key, Value, Source string }
			} `json:"effective"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &view); err != nil {
		t.Fatal(err)
	}
	if len(view.Instances) != 3 {
		t.Fatalf("want 3 instances, got %d", len(view.Instances))
	}
	for _, inst := range view.Instances {
		if inst.Name == "api" && (inst.Effective.Image.Value != "node:20-alpine" || inst.Effective.Image.Source != "user") {
			t.Errorf("api image = %+v, want node:20-alpine from user", inst.Effective.Image)
		}
	}

	// Weak secrets import with a warning that says why, never the value:
	// the catalog's postgres default password, and a short one.
	weak := filepath.Join(t.TempDir(), "weak.yml")
	if err := os.WriteFile(weak, []byte("version: 1\nstack: {name: weak-demo}\ninstances:\n  db: {template: postgres}\n"+
		"  cache:\n    template: redis\n    environment: {REDIS_PASSWORD: '${SECRET:SHORT_PW}'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SHORT_PW"] = "abc12"
	r = run(t, ctx, []string{"stack", "import", weak}, env)
	if r.code != 0 {
		t.Fatalf("weak stack import: code %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		`warning: instance "cache": secret REDIS_PASSWORD is weak: it is only 5 characters long`,
		`warning: instance "db": secret POSTGRES_PASSWORD is weak: it is the default value of POSTGRES_PASSWORD in template "postgres"`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("weak stack import does not warn %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr+r.stdout, "abc12") {
		t.Errorf("weak stack import shows the secret:\n%s\n%s", r.stdout, r.stderr)
	}

	r = run(t, ctx, []string{"stack", "import", corpus(t, "devarch-stacks/rejected-missing-template.yaml")}, env)
	if r.code != 1 || !strings.Contains(r.stderr, `instance "api"`) || !strings.Contains(r.stderr, `"template"`) {
		t.Fatalf("rejected file: code %d\n%s", r.code, r.stderr)
	}
	r = run(t, ctx, []string{"stack", "list"}, env)
	if strings.Contains(r.stdout, "broken-import") || !strings.Contains(r.stdout, "shop-import") {
		t.Fatalf("the rejected file wrote something:\n%s", r.stdout)
	}
}
