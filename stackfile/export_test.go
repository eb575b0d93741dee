package stackfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// exportSecrets are the secret values the export fixtures are imported
// with.
var exportSecrets = map[string]string{
	"APP_KEY":           "app-key-value-4711",
	"DB_PASSWORD":       "db-password-value-0815",
	"API_KEY":           "api-key-file-value-9999",
	"POSTGRES_PASSWORD": "pg-secret-value-1234",
}

// NormalizeForRoundTrip clears what an export does not keep by design
// (see Export): the provenance of values read from files at import, and
// Secret flags, which the round trip keeps as IsSecret says.
func normalizeForRoundTrip(s spec.Stack) spec.Stack {
	s.Variables = append([]spec.Variable(nil), s.Variables...)
	for i := range s.Variables {
		s.Variables[i].Secret = s.Variables[i].IsSecret()
	}
	s.Instances = append([]spec.Instance(nil), s.Instances...)
	for i := range s.Instances {
		o := &s.Instances[i].Overrides
		o.Env = append([]spec.EnvVar(nil), o.Env...)
		for j := range o.Env {
			o.Env[j].File = ""
			o.Env[j].Secret = o.Env[j].IsSecret()
		}
		for _, files := range []*[]spec.FileMount{&o.Secrets, &o.Configs} {
			*files = append([]spec.FileMount(nil), *files...)
			for j := range *files {
				(*files)[j].From = ""
			}
		}
	}
	return s
}

// reparse writes an export to a folder of its own (so that nothing next
// to the original file can be read) and parses it back.
func reparse(t *testing.T, e *Exported) *File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "devarch.yml")
	if err := os.WriteFile(path, e.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(path, e.Lookup())
	if err != nil {
		t.Fatalf("parse the export: %v\n%s", err, e.Data)
	}
	return f
}

func TestExportRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		secrets map[string]string
	}{
		{"every field", filepath.Join("testdata", "export", "stack.yml"), exportSecrets},
		{"shop corpus", corpusFile(t, "shop-export.yaml"), exportSecrets},
		{"demo example", filepath.Join("..", "examples", "stacks", "demo.yaml"), map[string]string{"DEMO_API_TOKEN": "demo-token-value-42"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig, err := ParseFile(tc.path, mapSecrets(tc.secrets))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			e, err := Export(orig.Stack)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			back := reparse(t, e)
			want, got := normalizeForRoundTrip(orig.Stack), normalizeForRoundTrip(back.Stack)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the export does not import back to the same stack:\ngot  %s\nwant %s\nexport:\n%s", mustJSON(got), mustJSON(want), e.Data)
			}
			for _, v := range tc.secrets {
				if strings.Contains(string(e.Data), v) {
					t.Errorf("the export holds the secret value %q:\n%s", v, e.Data)
				}
			}
			// A second export of the imported stack is the same file.
			again, err := Export(back.Stack)
			if err != nil {
				t.Fatalf("Export again: %v", err)
			}
			if string(again.Data) != string(e.Data) {
				t.Errorf("exporting the imported stack gives another file:\n%s\nfirst:\n%s", again.Data, e.Data)
			}
		})
	}
}

func TestExportHidesEverySecret(t *testing.T) {
	f, err := ParseFile(filepath.Join("testdata", "export", "stack.yml"), mapSecrets(exportSecrets))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Export(f.Stack)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(f.Stack.SecretValues(), "literal-admin-password", "token-from-env-file-1234", "creds-user-value", "db-password-file-content") {
		if strings.Contains(string(e.Data), v) {
			t.Errorf("the export holds the secret value %q", v)
		}
	}
	wantNames := []string{"ADMIN_PASSWORD", "API_KEY", "API_TOKEN", "APP_KEY", "CREDS_USER", "DB_PASSWORD", "DB_URL", "POSTGRES_PASSWORD"}
	if !reflect.DeepEqual(e.Secrets, wantNames) {
		t.Errorf("secrets = %q, want %q", e.Secrets, wantNames)
	}
	// The secrets file gives each its value.
	values, err := ParseSecrets(e.SecretsFile())
	if err != nil {
		t.Fatalf("ParseSecrets: %v", err)
	}
	// db's POSTGRES_PASSWORD came from ${SECRET:DB_PASSWORD}, and the
	// secret file db_password takes the name DB_PASSWORD.
	for name, want := range map[string]string{"POSTGRES_PASSWORD": exportSecrets["DB_PASSWORD"], "DB_PASSWORD": "db-password-file-content\n", "CREDS_USER": "creds-user-value"} {
		if values[name] != want {
			t.Errorf("the secrets file does not give %s its value", name)
		}
	}
	if len(values) != len(wantNames) {
		t.Errorf("the secrets file has %d entries, want %d", len(values), len(wantNames))
	}
	if len(e.Notes) == 0 {
		t.Error("no note says that env file values became environment values")
	}
}

func TestExportSecretNamesNeverClash(t *testing.T) {
	s := spec.Stack{Name: "clash", Enabled: true, Variables: []spec.Variable{{Name: "TOKEN", Value: "not-a-secret-variable"}}}
	for _, inst := range []struct{ name, value string }{{"a", "first-token-value"}, {"b", "second-token-value"}, {"c", "first-token-value"}} {
		s.Instances = append(s.Instances, spec.Instance{Name: inst.name, Enabled: true, Template: &spec.Template{Name: "t"},
			Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Env: []spec.EnvVar{{Key: "TOKEN", Value: inst.value, Secret: true}}}}})
	}
	e, err := Export(s)
	if err != nil {
		t.Fatal(err)
	}
	back := reparse(t, e)
	if !reflect.DeepEqual(normalizeForRoundTrip(back.Stack), normalizeForRoundTrip(s)) {
		t.Errorf("got %s\nexport:\n%s", mustJSON(back.Stack), e.Data)
	}
	// TOKEN is the variable's (secret by name): each instance's value
	// gets a name of its own.
	if want := []string{"A_TOKEN", "B_TOKEN", "C_TOKEN", "TOKEN"}; !reflect.DeepEqual(e.Secrets, want) {
		t.Errorf("secrets = %q, want %q", e.Secrets, want)
	}
}

func TestExportRefusesWhatTheFormatCannotSay(t *testing.T) {
	s := spec.Stack{Name: "odd", Enabled: true, Instances: []spec.Instance{
		{Name: "bare", Enabled: true},
		{Name: "web", Enabled: true, Template: &spec.Template{Name: "t"}, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
			User:      "1000",
			Restart:   "unless-stopped",
			Volumes:   []spec.Volume{{Type: spec.VolumeTypeTmpfs, Target: "/run"}},
			DependsOn: []spec.Dependency{{Name: "bare", Condition: spec.ConditionHealthy}},
			Options:   spec.Options{Logging: &spec.Logging{Driver: "splunk", Options: map[string]string{"splunk-token": "tok-secret-value"}}},
		}}},
		{Name: "app", Enabled: true, Template: &spec.Template{Name: "t"}, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Command: []string{"serve", "--key=app-secret-value"},
			Env:     []spec.EnvVar{{Key: "APP_KEY", Value: "app-secret-value", Secret: true}},
		}}},
	}}
	_, err := Export(s)
	var ee *ExportError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want an *ExportError", err)
	}
	for _, want := range []string{"instances.bare.template", "instances.web.user", "instances.web.restart", "instances.web.volumes[0]", "instances.web.dependencies", "instances.web.logging.options.splunk-token", "instances.app.command[1]"} {
		if !strings.Contains(err.Error(), want+": ") {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tok-secret-value") || strings.Contains(err.Error(), "app-secret-value") {
		t.Errorf("the error shows a secret: %v", err)
	}
}

// TestFileMountWithoutValue: a long-form secret or config entry with a
// field and no value is refused, naming it (compose's loader panicked on a
// null target; found by FuzzExportRoundTrip).
func TestFileMountWithoutValue(t *testing.T) {
	_, err := Parse([]byte(stackWithApp("configs: [{source: c, target: }]\nsecrets: [{source: s, mode: }]")+"configs:\n  c: {content: x}\nsecrets:\n  s: {environment: PW}\n"), testSecrets)
	for _, want := range []string{"instances.app.configs[0].target: target has no value", "instances.app.secrets[0].mode: mode has no value"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// TestExportDisabledStack: a disabled stack is written with enabled:
// false and reads back disabled; a stack file without the key is enabled.
func TestExportDisabledStack(t *testing.T) {
	f, err := Parse([]byte(strings.Replace(stackWithApp("image: nginx:1"), "name: s\n", "name: s\n  enabled: false\n", 1)), testSecrets)
	if err != nil {
		t.Fatal(err)
	}
	if f.Stack.Enabled {
		t.Fatal("stack.enabled: false reads as enabled")
	}
	e, err := Export(f.Stack)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(e.Data), "  enabled: false\n") {
		t.Errorf("the export does not say the stack is disabled:\n%s", e.Data)
	}
	if back := reparse(t, e); back.Stack.Enabled {
		t.Error("the export of a disabled stack reads back enabled")
	}
	f.Stack.Enabled = true
	if e, err = Export(f.Stack); err != nil || strings.Contains(string(e.Data), "enabled: false") {
		t.Errorf("an enabled stack: %v\n%s", err, e.Data)
	}
}
