package stackfile

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// corpusFile returns a file of devarch's stack export fixtures (see
// testenv.Corpus).
func corpusFile(t testing.TB, name string) string {
	t.Helper()
	return testenv.Corpus(t, filepath.Join("devarch-stacks", name))
}

func mapSecrets(m map[string]string) SecretLookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestParseShopExport(t *testing.T) {
	path := corpusFile(t, "shop-export.yaml")
	secrets := mapSecrets(map[string]string{"APP_KEY": "app-key-value", "POSTGRES_PASSWORD": "pg-secret-value"})
	f, err := ParseFile(path, secrets)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	s := f.Stack
	if s.ID != 0 || s.Name != "shop-import" || s.Description != "Imported shop workspace fixture." || s.NetworkName != "custom-shop-net" || !s.Enabled {
		t.Errorf("stack = %+v", s)
	}
	if len(s.Instances) != 3 {
		t.Fatalf("%d instances, want 3", len(s.Instances))
	}
	var names []string
	for _, inst := range s.Instances {
		names = append(names, inst.Name+"<-"+inst.TemplateName())
		if !inst.Enabled || inst.ID != 0 {
			t.Errorf("%s: enabled %v id %d", inst.Name, inst.Enabled, inst.ID)
		}
	}
	if want := []string{"api<-node-api", "postgres<-postgres", "web<-vite-web"}; !reflect.DeepEqual(names, want) {
		t.Errorf("instances = %q, want %q", names, want)
	}

	api := s.Instances[0].Overrides
	wantAPI := spec.Overrides{
		ServiceSpec: spec.ServiceSpec{
			Image:   "node:20-alpine",
			Command: []string{"npm", "run", "dev"},
			Env: []spec.EnvVar{
				{Key: "APP_KEY", Value: "app-key-value", Secret: true},
				{Key: "NODE_ENV", Value: "development"},
			},
			Ports:       []spec.Port{{HostIP: "127.0.0.1", HostPort: 8300, ContainerPort: 3000, Protocol: "tcp"}},
			Labels:      []spec.Label{{Key: "com.example.role", Value: "api"}},
			DependsOn:   []spec.Dependency{{Name: "postgres", Condition: spec.ConditionStarted}},
			ConfigFiles: []spec.ConfigFile{{Path: "app.env", Target: "/app/.env", Content: "FEATURE_FLAG=true\n", Mode: 0o644}},
		},
		Domains:  []spec.Domain{{Domain: "api.shop.local", ProxyPort: 3000}},
		EnvFiles: []string{".env.local"},
	}
	wantAPI.Networks = spec.Networks{"shop-net": nil}
	if !reflect.DeepEqual(api, wantAPI) {
		t.Errorf("api overrides:\n%s\nwant:\n%s", mustJSON(api), mustJSON(wantAPI))
	}

	pg := s.Instances[1].Overrides
	if len(pg.Env) != 3 || pg.Env[1] != (spec.EnvVar{Key: "POSTGRES_PASSWORD", Value: "pg-secret-value", Secret: true}) {
		t.Errorf("postgres env = %+v", pg.Env)
	}
	wantHealth := &spec.Healthcheck{
		Test:        []string{"CMD-SHELL", "pg_isready -U shop"},
		Interval:    spec.Duration(10e9),
		Timeout:     spec.Duration(5e9),
		StartPeriod: spec.Duration(30e9),
		Retries:     5,
	}
	if !reflect.DeepEqual(pg.Healthcheck, wantHealth) {
		t.Errorf("postgres healthcheck = %+v, want %+v", pg.Healthcheck, wantHealth)
	}
	if want := []spec.Volume{{Type: "volume", Source: "shop_postgres_data", Target: "/var/lib/postgresql/data"}}; !reflect.DeepEqual(pg.Volumes, want) {
		t.Errorf("postgres volumes = %+v", pg.Volumes)
	}

	wantWires := []spec.Wire{
		{ConsumerInstance: "api", ProviderInstance: "postgres", ImportContract: "postgres", ExportContract: "postgres", Source: "explicit"},
		{ConsumerInstance: "web", ProviderInstance: "api", ImportContract: "http", ExportContract: "http", Source: "auto"},
	}
	if !reflect.DeepEqual(s.Wires, wantWires) {
		t.Errorf("wires = %+v", s.Wires)
	}

	wantWarnings := []string{
		"instances.api.env_files[0]: ",
		"instances.api.domains[0]: domain api.shop.local", "wires[0]: wire api -> postgres", "wires[1]: wire web -> api",
		"instances.api.networks: network shop-net is not defined in the stack's networks section: unless template node-api defines it",
	}
	if len(f.Warnings) != len(wantWarnings) {
		t.Fatalf("warnings = %q, want %d", f.Warnings, len(wantWarnings))
	}
	for i, w := range f.Warnings {
		if !strings.HasPrefix(w, wantWarnings[i]) || !strings.Contains(w, "not") {
			t.Errorf("warning %d = %q, want prefix %q", i, w, wantWarnings[i])
		}
		if strings.Contains(w, "secret-value") || strings.Contains(w, "app-key-value") {
			t.Errorf("warning leaks a secret: %q", w)
		}
	}
}

func TestParseShopExportMissingSecret(t *testing.T) {
	path := corpusFile(t, "shop-export.yaml")
	_, err := ParseFile(path, mapSecrets(map[string]string{"POSTGRES_PASSWORD": "pg-secret-value"}))
	if err == nil {
		t.Fatal("ParseFile succeeded without APP_KEY")
	}
	var verr *spec.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 {
		t.Fatalf("error = %v, want one problem", err)
	}
	p := verr.Problems[0]
	if p.Field != "instances.api.environment.APP_KEY" || !strings.Contains(p.Message, `secret "APP_KEY" is not set`) {
		t.Errorf("problem = %+v", p)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "pg-secret-value") {
		t.Errorf("error %q must name the file and no secret value", msg)
	}
}

func TestParseRejectedMissingTemplate(t *testing.T) {
	path := corpusFile(t, "rejected-missing-template.yaml")
	_, err := ParseFile(path, nil)
	if err == nil {
		t.Fatal("ParseFile accepted an instance without a template")
	}
	msg := err.Error()
	for _, want := range []string{path, "instances.api.template", `instance "api"`, `missing required field "template"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

// TestShopExportMergesWithCatalog checks that the shop export, merged with
// the templates it names (from the corpus and examples/templates), is a
// valid stack: what "stack import" needs after "catalog import".
func TestShopExportMergesWithCatalog(t *testing.T) {
	path := corpusFile(t, "shop-export.yaml")
	templates := map[string]spec.Template{}
	for _, r := range catalog.LoadPaths(testenv.Corpus(t, "devarch-services"), "../examples/templates") {
		if r.Err != nil {
			t.Fatalf("load templates: %v", r.Err)
		}
		templates[r.Template.Name] = r.Template
	}
	f, err := ParseFile(path, mapSecrets(map[string]string{"APP_KEY": "k", "POSTGRES_PASSWORD": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Stack
	for i, inst := range s.Instances {
		tmpl, ok := templates[inst.TemplateName()]
		if !ok {
			t.Fatalf("instance %s: template %q is not in the catalog", inst.Name, inst.TemplateName())
		}
		s.Instances[i].Effective = spec.Merge(&tmpl.Spec, inst.Overrides)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("merged shop stack is invalid:\n%v", err)
	}
	api := s.Instances[0].Effective
	if api.Image.Value != "node:20-alpine" || api.Image.Source != spec.SourceUser || api.Healthcheck.Value == nil || api.Healthcheck.Source != spec.SourceTemplate {
		t.Errorf("api effective image %+v healthcheck %+v", api.Image, api.Healthcheck)
	}
}
