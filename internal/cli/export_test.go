package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// exportCanaries are the secret values the round trip imports stacks
// with; none may appear in an export.
var exportCanaries = map[string]string{
	"POSTGRES_PASSWORD": "pg-canary-export-5f3a9",
	"APP_KEY":           "app-canary-export-77c1e",
	"DEMO_API_TOKEN":    "demo-canary-export-0b2d",
	"DB_PASSWORD":       "db-canary-export-31c4",
	"API_KEY":           "api-canary-export-9e0a",
}

// everyField is the stack file that sets every field of the format; its
// values read from files at import keep their value through the round
// trip but not their provenance (see stackfile.Export).
const everyField = "stackfile/testdata/export/stack.yml"

// stackFiles lists every stack file of the corpus and of examples/.
func stackFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{corpus(t, "devarch-stacks"), repoPath(t, "examples/stacks")} {
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(dir, pattern))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m...)
		}
	}
	out = append(out, repoPath(t, everyField))
	sort.Strings(out)
	if len(out) < 4 {
		t.Fatalf("found %d stack files, want the corpus's and the examples'", len(out))
	}
	return out
}

// comparableStack is a stored stack without what differs between
// databases (ids), as JSON.
func comparableStack(t *testing.T, s spec.Stack, provenance bool) string {
	t.Helper()
	if !provenance {
		s = dropProvenance(s)
	}
	s.ID = 0
	s.Instances = append([]spec.Instance(nil), s.Instances...)
	for i := range s.Instances {
		inst := &s.Instances[i]
		inst.ID = 0
		if inst.Template != nil {
			tmpl := *inst.Template
			tmpl.ID = 0
			inst.Template = &tmpl
		}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dropProvenance clears what the export of a value read from a file at
// import does not keep: its file, and the Secret flag, kept as IsSecret
// says.
func dropProvenance(s spec.Stack) spec.Stack {
	for _, vars := range [][]spec.Variable{s.Variables} {
		for i := range vars {
			vars[i].Secret = vars[i].IsSecret()
		}
	}
	for i := range s.Instances {
		for _, e := range []*spec.Effective{&s.Instances[i].Effective} {
			clearEnv(e.Env)
			clearFiles(e.Secrets, e.Configs)
		}
		o := &s.Instances[i].Overrides
		clearEnv(o.Env)
		clearFiles(o.Secrets, o.Configs)
	}
	return s
}

func clearEnv(env []spec.EnvVar) {
	for i := range env {
		env[i].File, env[i].Secret = "", env[i].IsSecret()
	}
}

func clearFiles(groups ...[]spec.FileMount) {
	for _, g := range groups {
		for i := range g {
			g[i].From = ""
		}
	}
}

func readStack(t *testing.T, url, name string) spec.Stack {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, url, "export-test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Stack(ctx, name)
	if err != nil {
		t.Fatalf("read stack %s: %v", name, err)
	}
	return s
}

// TestExportImportRoundTrip: every corpus and example stack, imported,
// exported with stack export and imported into a fresh database, is
// stored exactly as the original (stack, instances, overrides, options,
// variables, networks, effective specs), from the export and the secrets
// file alone; the export holds no secret value; importing it back into
// the first database changes nothing; exporting the copy gives the same
// file.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": filepath.Join(dir, "state1")}
	for k, v := range exportCanaries {
		first[k] = v
	}
	// The copy gets no secret from the environment: the secrets file
	// --secrets-out wrote must do.
	second := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": filepath.Join(dir, "state2")}
	for _, env := range []map[string]string{first, second} {
		for _, catalog := range []string{corpus(t, "devarch-services"), repoPath(t, "examples/templates")} {
			if r := run(t, ctx, []string{"catalog", "import", catalog}, env); r.code != 0 {
				t.Fatalf("catalog import %s: %s", catalog, r.stderr)
			}
		}
	}
	exported := 0
	for _, file := range stackFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := run(t, ctx, []string{"stack", "import", file}, first)
			if r.code != 0 {
				// A file the controller refuses has nothing to export; it
				// must be refused for what it lacks, as the corpus says.
				if !strings.Contains(r.stderr, "missing required field \"template\"") {
					t.Fatalf("stack import: code %d\n%s", r.code, r.stderr)
				}
				return
			}
			name := stackName(t, r.stdout)
			out, secrets := filepath.Join(dir, name+".yml"), filepath.Join(dir, name+".secrets")
			r = run(t, ctx, []string{"stack", "export", name, "-o", out, "--secrets-out", secrets}, first)
			if r.code != 0 {
				t.Fatalf("stack export: code %d\n%s", r.code, r.stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range exportCanaries {
				if strings.Contains(string(data), v) || strings.Contains(r.stdout+r.stderr, v) {
					t.Errorf("the export shows the secret %q:\n%s", v, data)
				}
			}
			if fi, err := os.Stat(secrets); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("secrets file: %v, mode %v", err, fi.Mode())
			}

			copyEnv := map[string]string{"DEVARCH_SECRETS_FILE": secrets}
			for k, v := range second {
				copyEnv[k] = v
			}
			if r = run(t, ctx, []string{"stack", "import", out}, copyEnv); r.code != 0 {
				t.Fatalf("importing the export into a fresh database: code %d\n%s\n%s", r.code, r.stderr, data)
			}
			exact := !strings.HasSuffix(file, everyField)
			want := comparableStack(t, readStack(t, first["DEVARCH_DATABASE_URL"], name), exact)
			got := comparableStack(t, readStack(t, second["DEVARCH_DATABASE_URL"], name), exact)
			if got != want {
				t.Errorf("the copy's desired state differs:\n%s\nwant:\n%s\nexport:\n%s", got, want, data)
			}

			r = run(t, ctx, []string{"stack", "import", out}, copyEnvWith(first, secrets))
			if r.code != 0 || exact && !strings.Contains(r.stdout, "No changes: the stack already matches the file.") {
				t.Errorf("importing the export where it came from must change nothing: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			r = run(t, ctx, []string{"stack", "export", name}, second)
			if r.code != 0 || r.stdout != string(data) {
				t.Errorf("exporting the copy gives another file (code %d):\n%s\nfirst:\n%s\n%s", r.code, r.stdout, data, r.stderr)
			}
			checkComposeExport(t, first, name)
			exported++
		})
	}
	if exported < 2 {
		t.Errorf("%d stacks went through the round trip, want the corpus's shop and the examples' demo at least", exported)
	}
}

func copyEnvWith(env map[string]string, secrets string) map[string]string {
	out := map[string]string{"DEVARCH_SECRETS_FILE": secrets}
	for k, v := range env {
		if _, secret := exportCanaries[k]; !secret {
			out[k] = v
		}
	}
	return out
}

// stackName reads the stack's name from stack import's output.
func stackName(t *testing.T, stdout string) string {
	t.Helper()
	line, _, _ := strings.Cut(stdout, "\n")
	name, ok := strings.CutPrefix(line, "Stack ")
	if !ok {
		t.Fatalf("unexpected import output %q", stdout)
	}
	name, _, _ = strings.Cut(name, " ")
	return name
}

// checkComposeExport: stack export --format compose of the stack loads
// with the compose library, with the applied config hashes, its secret
// values given by the .env file --secrets-out writes.
func checkComposeExport(t *testing.T, env map[string]string, name string) {
	t.Helper()
	want := appliedHashes(t, env["DEVARCH_DATABASE_URL"], name)
	dir := t.TempDir()
	path, dotenvPath := filepath.Join(dir, "compose.yml"), filepath.Join(dir, ".env")
	r := run(t, context.Background(), []string{"stack", "export", name, "--format", "compose", "-o", path, "--secrets-out", dotenvPath}, env)
	if r.code != 0 {
		t.Fatalf("compose export: code %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range exportCanaries {
		if strings.Contains(string(data), v) {
			t.Errorf("the compose export holds the secret %q", v)
		}
	}
	values, err := dotenv.GetEnvFromFile(map[string]string{}, []string{dotenvPath})
	if err != nil {
		t.Fatalf("compose does not read the .env file: %v", err)
	}
	checkComposeHashes(t, path, data, values, want)
}

// appliedHashes are the config hashes of the services the controller
// applies for the stack.
func appliedHashes(t *testing.T, url, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, url, "export-test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := planner.New(st, nil, planner.Options{}).Desired(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := project.Build(d.Stack, d.Paths)
	if err != nil {
		t.Fatal(err)
	}
	want, err := applied.ServiceHashes()
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestComposeExportMatchesTheAppliedProject: stack export --format
// compose writes a file the compose library loads, whose services have
// the config hashes of the project the controller applies, for the
// corpus's shop stack; the values of its secrets come from the .env file
// --secrets-out writes, and are in the file only with --include-secrets.
func TestComposeExportMatchesTheAppliedProject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": filepath.Join(dir, "state")}
	for k, v := range exportCanaries {
		env[k] = v
	}
	for _, args := range [][]string{
		{"catalog", "import", corpus(t, "devarch-services"), repoPath(t, "examples/templates")},
		{"stack", "import", corpus(t, "devarch-stacks/shop-export.yaml")},
	} {
		if r := run(t, ctx, args, env); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	want := appliedHashes(t, env["DEVARCH_DATABASE_URL"], "shop-import")

	composeDir := filepath.Join(dir, "compose")
	testenv.MkdirAll(t, composeDir)
	path := filepath.Join(composeDir, "compose.yml")
	r := run(t, ctx, []string{"stack", "export", "shop-import", "--format", "compose", "-o", path, "--secrets-out", filepath.Join(composeDir, ".env")}, env)
	if r.code != 0 {
		t.Fatalf("export: code %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range exportCanaries {
		if strings.Contains(string(data), v) {
			t.Errorf("the compose export holds the secret %q", v)
		}
	}
	if !strings.Contains(r.stderr, "API_APP_KEY") || !strings.Contains(r.stderr, "POSTGRES_POSTGRES_PASSWORD") {
		t.Errorf("stderr does not name the secret variables:\n%s", r.stderr)
	}
	dotenvValues, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(composeDir, ".env")})
	if err != nil {
		t.Fatalf("compose does not read the .env file: %v", err)
	}
	checkComposeHashes(t, path, data, dotenvValues, want)

	private := filepath.Join(dir, "with-secrets.yml")
	r = run(t, ctx, []string{"stack", "export", "shop-import", "--format", "compose", "--include-secrets", "-o", private}, env)
	if fi, err := os.Stat(private); r.code != 0 || err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--include-secrets -o FILE: code %d, %v, the file must be private (0600)", r.code, err)
	}
	r = run(t, ctx, []string{"stack", "export", "shop-import", "--format", "compose", "--include-secrets"}, env)
	if r.code != 0 || !strings.Contains(r.stdout, exportCanaries["APP_KEY"]) {
		t.Fatalf("--include-secrets: code %d, the value is in the file: %v\n%s", r.code, strings.Contains(r.stdout, exportCanaries["APP_KEY"]), r.stderr)
	}
	checkComposeHashes(t, path, []byte(r.stdout), map[string]string{}, want)
}

func checkComposeHashes(t *testing.T, path string, data []byte, env map[string]string, want map[string]string) {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path, Content: data}},
		Environment: env,
	})
	if err != nil {
		t.Fatalf("the compose library does not load the export: %v\n%s", err, data)
	}
	if len(p.Services) != len(want) {
		t.Errorf("%d services, want %d", len(p.Services), len(want))
	}
	for name, h := range want {
		got, err := project.ServiceHash(p.Services[name])
		if err != nil {
			t.Fatal(err)
		}
		if got != h {
			t.Errorf("service %s: config hash %s, the controller applies %s", name, got, h)
		}
	}
}

// TestExportBadInput: an unknown stack and an unknown format are errors
// that say what to do; nothing is written.
func TestExportBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": filepath.Join(dir, "state")}
	out := filepath.Join(dir, "out.yml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stack", "export", "nope", "-o", out}, `stack "nope" not found; list the stacks with "devarch-controller stack list"`},
		{[]string{"stack", "export", "nope", "--format", "compose", "-o", out}, `stack "nope" not found`},
		{[]string{"stack", "export", "nope", "--format", "helm"}, `unknown export format "helm"; the formats are devarch and compose`},
		{[]string{"stack", "export", "nope", "--include-secrets"}, "--include-secrets applies to --format compose only"},
	} {
		r := run(t, ctx, tc.args, env)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: code %d, stderr lacks %q:\n%s", tc.args, r.code, tc.want, r.stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%v wrote %s", tc.args, out)
		}
	}
}
