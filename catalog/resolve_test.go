package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

const interpFixture = "testdata/interp/web/vars/compose.yml"

func loadInterpFixture(t *testing.T) spec.Template {
	t.Helper()
	res, err := LoadFile(interpFixture)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	return res.Template
}

// TestLoadFileVariables: a template with typed keys that reference
// variables imports; its compose file is kept for the stacks, its catalog
// copy leaves the typed keys unset and says the value comes from the stack.
func TestLoadFileVariables(t *testing.T) {
	res, err := LoadFile(interpFixture)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if res.Template.Compose == "" {
		t.Fatal("Compose is empty; want the file kept for the stacks")
	}
	for _, k := range []string{"read_only", "ulimits", "user"} {
		if !slices.Contains(res.Keys, k) {
			t.Errorf("keys %q lack %s", res.Keys, k)
		}
	}
	if res.Template.Spec.ReadOnly || res.Template.Spec.Ulimits != nil {
		t.Errorf("catalog copy sets read_only %v / ulimits %v; want them unset", res.Template.Spec.ReadOnly, res.Template.Spec.Ulimits)
	}
	if res.Template.Spec.User != "${UID}" {
		t.Errorf("catalog copy user = %q, want the reference as written", res.Template.Spec.User)
	}
	byKey := map[string]string{}
	for _, w := range res.Warnings {
		byKey[w.Key] = w.Message
		if strings.Contains(w.Message, "kept literally") || w.Ignored {
			t.Errorf("warning %s", w)
		}
	}
	if m := byKey["services.vars.read_only"]; !strings.Contains(m, "${RO}") || !strings.Contains(m, "the value comes from the stack") {
		t.Errorf("read_only warning = %q", m)
	}
	if _, ok := byKey["services.vars.environment.LITERAL"]; ok {
		t.Error("an escaped $$ got a warning")
	}
	if Digest(res.Template) == Digest(spec.Template{Name: res.Template.Name, Category: res.Template.Category, Spec: res.Template.Spec}) {
		t.Error("the digest ignores the compose file")
	}
}

func TestResolve(t *testing.T) {
	tmpl := loadInterpFixture(t)
	base := []spec.Variable{{Name: "UID", Value: "1000"}, {Name: "RO", Value: "true"}, {Name: "E", Value: "dev"}, {Name: "F", Value: ""}}
	res, err := Resolve(tmpl, base)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	s := res.Spec
	if s.Image != "busybox:1.36" || s.User != "1000" || !s.ReadOnly {
		t.Errorf("image %q user %q read_only %v", s.Image, s.User, s.ReadOnly)
	}
	if got := s.Ulimits["nofile"]; got.Soft != 1024 || got.Hard != 1024 {
		t.Errorf("ulimits.nofile = %+v, want the default 1024", got)
	}
	if want := []string{"sh", "-c", "echo $HOME "}; !reflect.DeepEqual(s.Command, want) {
		t.Errorf("command = %q, want %q ($$ escaped, $GREETING unset)", s.Command, want)
	}
	env := map[string]string{}
	for _, e := range s.Env {
		env[e.Key] = e.Value
	}
	want := map[string]string{
		"UNSET_DEFAULT": "unset-default", "EMPTY_DEFAULT": "empty-default", "ALT": "", "PLAIN": "",
		"REQUIRED": "dev", "REQUIRED_SET": "", "LITERAL": "${KEEP}",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v\nwant %v", env, want)
	}
	warned := map[string]bool{}
	for _, w := range res.Warnings {
		warned[w.Key] = true
		if w.File != interpFixture {
			t.Errorf("warning %s does not name the file", w)
		}
	}
	if !warned["services.vars.environment.PLAIN"] || !warned["services.vars.command[2]"] || len(warned) != 2 {
		t.Errorf("warnings at %v, want PLAIN ($D) and command[2] ($GREETING)", warned)
	}
	uses := map[string][]string{}
	for _, u := range res.Uses {
		uses[u.Field] = u.Variables
	}
	for field, names := range map[string][]string{"user": {"UID"}, "read_only": {"RO"}, "image": {"TAG"}, "env.REQUIRED": {"E"}, "ulimits.nofile": {"NOFILE"}, "command": {"GREETING"}} {
		if !reflect.DeepEqual(uses[field], names) {
			t.Errorf("uses[%s] = %v, want %v", field, uses[field], names)
		}
	}
	if _, ok := uses["env.LITERAL"]; ok {
		t.Error("an escaped $$ counts as a variable use")
	}

	// Each form, against given, empty and unset values.
	forms := []struct {
		name string
		vars []spec.Variable
		key  string
		want string
	}{
		{"unset default, given empty", []spec.Variable{{Name: "A", Value: ""}}, "UNSET_DEFAULT", ""},
		{"empty default, given empty", []spec.Variable{{Name: "B", Value: ""}}, "EMPTY_DEFAULT", "empty-default"},
		{"empty default, given", []spec.Variable{{Name: "B", Value: "b"}}, "EMPTY_DEFAULT", "b"},
		{"alternative, given", []spec.Variable{{Name: "C", Value: "c"}}, "ALT", "alt"},
		{"alternative, given empty", []spec.Variable{{Name: "C", Value: ""}}, "ALT", ""},
		{"plain, given", []spec.Variable{{Name: "D", Value: "d"}}, "PLAIN", "d"},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			res, err := Resolve(tmpl, append(append([]spec.Variable{}, base...), f.vars...))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			for _, e := range res.Spec.Env {
				if e.Key == f.key && e.Value != f.want {
					t.Errorf("%s = %q, want %q", f.key, e.Value, f.want)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tmpl := loadInterpFixture(t)
	tests := []struct {
		name    string
		vars    []spec.Variable
		want    []string
		missing []string
	}{
		{"required unset", []spec.Variable{{Name: "RO", Value: "true"}, {Name: "F", Value: "x"}},
			[]string{interpFixture, "services.vars.environment.REQUIRED", "E is the environment name", "variables:"}, []string{"E"}},
		{"required empty", []spec.Variable{{Name: "RO", Value: "true"}, {Name: "E", Value: ""}, {Name: "F", Value: "x"}},
			[]string{"services.vars.environment.REQUIRED"}, []string{"E"}},
		{"required-if-unset unset", []spec.Variable{{Name: "RO", Value: "true"}, {Name: "E", Value: "x"}},
			[]string{"services.vars.environment.REQUIRED_SET", "F must be set"}, []string{"F"}},
		{"typed key empty", []spec.Variable{{Name: "E", Value: "x"}, {Name: "F", Value: "x"}},
			[]string{interpFixture, "services.vars.read_only", "invalid boolean"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tmpl, tt.vars)
			var re *ResolveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *ResolveError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !reflect.DeepEqual(re.Missing, tt.missing) {
				t.Errorf("missing = %v, want %v", re.Missing, tt.missing)
			}
		})
	}
}

// TestResolveSecretNotEchoed: a value compose refuses is quoted in its
// error; a secret variable's value must not be.
func TestResolveSecretNotEchoed(t *testing.T) {
	tmpl := loadInterpFixture(t)
	_, err := Resolve(tmpl, []spec.Variable{{Name: "RO", Value: "hunter2-secret", Secret: true}, {Name: "E", Value: "x"}, {Name: "F", Value: "x"}})
	if err == nil {
		t.Fatal("Resolve accepted read_only: hunter2-secret")
	}
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("error echoes the secret: %v", err)
	}
}

// TestResolveWithoutReferences: a template without references resolves to
// its stored spec, whatever the variables.
func TestResolveWithoutReferences(t *testing.T) {
	res, err := LoadFile("testdata/scalars.yml")
	if err != nil {
		t.Fatal(err)
	}
	if res.Template.Compose != "" {
		t.Fatal("Compose kept for a file without references")
	}
	got, err := Resolve(res.Template, []spec.Variable{{Name: "X", Value: "y"}})
	if err != nil || !reflect.DeepEqual(got.Spec, res.Template.Spec) || got.Uses != nil {
		t.Errorf("Resolve = %+v, %v; want the stored spec", got, err)
	}
}

// FuzzResolve: resolving any compose file with any variable values never
// panics, and neither an error nor a warning holds a secret variable's
// value.
func FuzzResolve(f *testing.F) {
	f.Add([]byte("services:\n  a:\n    image: x\n    read_only: ${S}\n"), "hunter2-secret")
	f.Add([]byte("services:\n  a:\n    image: x:${S:-1}\n    user: ${U:?${S}}\n"), "s3cret-value")
	f.Add([]byte("services:\n  a:\n    image: x\n    ports: ['${S}:80']\n    ulimits: {nofile: '${S}'}\n"), "p4ssword")
	f.Add([]byte("services:\n  a:\n    image: x\n    environment: [A=$S, B=$${S}, C=${S:+alt}, D=${S-d}, E=${S?e}]\n"), "secret-value")
	if content, err := os.ReadFile(interpFixture); err == nil {
		f.Add(content, "true")
	}
	f.Fuzz(func(t *testing.T, content []byte, secret string) {
		tmpl := spec.Template{Name: "a", SourcePath: "web/a/compose.yml", Compose: string(content)}
		vars := []spec.Variable{{Name: "S", Value: secret, Secret: true}, {Name: "A", Value: "a"}}
		res, err := Resolve(tmpl, vars)
		if len(secret) < spec.MinScrubLength {
			return
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("error holds the secret %q: %v", secret, err)
		}
		for _, w := range res.Warnings {
			if strings.Contains(w.String(), secret) {
				t.Fatalf("warning holds the secret %q: %s", secret, w)
			}
		}
	})
}

// BenchmarkResolve: the cost a template with references adds to every
// read of a stack that uses it.
func BenchmarkResolve(b *testing.B) {
	res, err := LoadFile(interpFixture)
	if err != nil {
		b.Fatal(err)
	}
	vars := []spec.Variable{{Name: "UID", Value: "1000"}, {Name: "RO", Value: "true"}, {Name: "E", Value: "dev"}, {Name: "F", Value: ""}}
	for b.Loop() {
		if _, err := Resolve(res.Template, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResolvePorts: a port with variables is left out of the catalog copy
// and resolved per stack, as compose reads it.
func TestResolvePorts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web", "p", "compose.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	file := "services:\n  p:\n    image: x\n    ports: ['${BIND:-127.0.0.1}:${PORT:?give the port}:80', '9000:9000']\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if want := []spec.Port{{HostPort: 9000, ContainerPort: 9000, Protocol: "tcp"}}; !reflect.DeepEqual(res.Template.Spec.Ports, want) {
		t.Errorf("catalog copy ports %+v, want %+v", res.Template.Spec.Ports, want)
	}
	got, err := Resolve(res.Template, []spec.Variable{{Name: "PORT", Value: "8080"}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []spec.Port{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 9000, ContainerPort: 9000, Protocol: "tcp"}}
	if !reflect.DeepEqual(got.Spec.Ports, want) {
		t.Errorf("ports %+v, want %+v", got.Spec.Ports, want)
	}
	if len(got.Uses) != 1 || got.Uses[0].Field != "ports" || !reflect.DeepEqual(got.Uses[0].Variables, []string{"BIND", "PORT"}) {
		t.Errorf("uses %+v", got.Uses)
	}
	if _, err := Resolve(res.Template, []spec.Variable{{Name: "PORT", Value: "eighty"}}); err == nil || !strings.Contains(err.Error(), "services.p.ports") {
		t.Errorf("PORT=eighty: err %v, want one naming services.p.ports", err)
	}
}
