package project_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

const (
	exportEnvSecret   = "env-secret-value-3141"
	exportVarSecret   = "variable-secret-5926"
	exportShortSecret = "pw1"
	exportLogToken    = "log-token-value-2718"
)

// exportStack has a bit of everything the compose file carries: secrets
// whole and embedded, dollars, files, options, networks, dependencies.
func exportStack() spec.Stack {
	gp := spec.Duration(20e9)
	tmpl := &spec.Template{ID: 1, Name: "app", Category: "test", Spec: spec.ServiceSpec{
		Image:       "app:1",
		Command:     []string{"serve", "--db", "postgres://app:" + exportVarSecret + "@db/app", "--price", "$5"},
		Env:         []spec.EnvVar{{Key: "GREETING", Value: "hi $USER"}, {Key: "FROM_FILE", Value: "x", File: ".env"}},
		Ports:       []spec.Port{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}},
		Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"}, {Type: spec.VolumeTypeBind, Source: "./src", Target: "/src", ReadOnly: true}, {Type: spec.VolumeTypeVolume, Target: "/cache"}},
		Labels:      []spec.Label{{Key: "cost", Value: "$1"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, Interval: spec.Duration(10e9), Retries: 3},
		ConfigFiles: []spec.ConfigFile{{Path: "app.conf", Target: "/etc/app.conf", Content: "a=$1\n", Mode: 0o640}},
		Secrets:     []spec.FileMount{{Name: "db_password", Target: "/run/secrets/db_password", Content: "file-secret-content", Mode: 0o400}},
		Configs:     []spec.FileMount{{Name: "app_conf", Target: "/app_conf", Content: "c=1\n"}},
		Networks:    spec.Networks{"default": nil, "backend": {Aliases: []string{"api-1"}}},
		NetworkDefinitions: spec.NetworkDefinitions{"backend": {
			Subnets: []spec.Subnet{{Subnet: "10.213.57.0/24"}},
		}},
		Options: spec.Options{
			Hostname:        "api-1",
			MemReservation:  256 << 20,
			Init:            new(true),
			StopGracePeriod: &gp,
			Ulimits:         map[string]spec.Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
			Logging:         &spec.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m", "splunk-token": exportLogToken}},
			Deploy:          &spec.Deploy{Resources: spec.Resources{Limits: &spec.Resource{CPUs: 0.5}}},
		},
		Restart: "unless-stopped",
	}}
	api := spec.Instance{ID: 5, Name: "api", Enabled: true, Template: tmpl, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Env: []spec.EnvVar{{Key: "API_TOKEN", Value: exportEnvSecret, Secret: true}, {Key: "DB_PASS", Value: exportShortSecret, Secret: true}},
	}}}
	api.Effective = spec.Merge(&tmpl.Spec, api.Overrides)
	db := spec.Instance{ID: 6, Name: "db", Enabled: true, Template: &spec.Template{ID: 2, Name: "db", Spec: spec.ServiceSpec{Image: "db:1"}}}
	db.Effective = spec.Merge(&db.Template.Spec, spec.Overrides{})
	api.Effective.DependsOn = spec.Value[[]spec.Dependency]{Value: []spec.Dependency{{Name: "db", Condition: spec.ConditionStarted}}, Source: spec.SourceUser}
	off := spec.Instance{ID: 7, Name: "off", Enabled: false, Template: db.Template, Effective: db.Effective}
	return spec.Stack{ID: 3, Name: "shop", Enabled: true, Instances: []spec.Instance{api, db, off},
		Variables: []spec.Variable{{Name: "DB_SECRET", Value: exportVarSecret, Secret: true}}}
}

// loadCompose loads a compose file with the compose library, as docker
// compose config does, with env as the environment.
func loadCompose(t *testing.T, data []byte, env map[string]string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: path, Content: data}},
		Environment: env,
	})
	if err != nil {
		t.Fatalf("the compose library does not load the export: %v\n%s", err, data)
	}
	return p
}

// TestComposeExportHasTheAppliedConfigHashes: the exported file loads
// with the compose library, and each service it gives has the config
// hash of the service the controller applies; no secret is in the file
// unless asked for.
func TestComposeExportHasTheAppliedConfigHashes(t *testing.T) {
	s := exportStack()
	o := project.Options{StateDir: "/state", WorkspaceDir: "/ws", Keys: testRing(1)}
	applied, err := project.Build(s, o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := applied.ServiceHashes()
	if err != nil {
		t.Fatal(err)
	}
	for _, include := range []bool{false, true} {
		f, err := project.Compose(s, o, include)
		if err != nil {
			t.Fatalf("Compose: %v", err)
		}
		text := string(f.Data)
		for _, secret := range []string{exportEnvSecret, exportVarSecret, exportShortSecret, exportLogToken, "file-secret-content"} {
			if got := strings.Contains(text, secret); got != (include && secret != "file-secret-content") {
				t.Errorf("includeSecrets %v: the file holds %q: %v\n%s", include, secret, got, text)
			}
		}
		if !include {
			wantVars := []string{"API_API_TOKEN", "API_DB_PASS", "API_LOGGING_OPTIONS_SPLUNK_TOKEN", "DB_SECRET"}
			if strings.Join(f.Variables, ",") != strings.Join(wantVars, ",") {
				t.Errorf("variables = %q, want %q", f.Variables, wantVars)
			}
		} else if len(f.Variables) != 0 {
			t.Errorf("variables with the secrets included = %q", f.Variables)
		}
		loaded := loadCompose(t, f.Data, f.Env())
		if len(loaded.Services) != len(want) {
			t.Errorf("%d services loaded, want %d", len(loaded.Services), len(want))
		}
		for name, h := range want {
			svc, ok := loaded.Services[name]
			if !ok {
				t.Errorf("service %s is missing", name)
				continue
			}
			got, err := project.ServiceHash(svc)
			if err != nil {
				t.Fatal(err)
			}
			if got != h {
				t.Errorf("includeSecrets %v: service %s has config hash %s, the applied one %s\nloaded:  %+v\napplied: %+v", include, name, got, h, svc, applied.Services[name])
			}
		}
	}
}

// TestComposeEnvFile: the .env file gives the variables their values as
// compose reads them.
func TestComposeEnvFile(t *testing.T) {
	s := exportStack()
	o := project.Options{StateDir: "/state", WorkspaceDir: "/ws", Keys: testRing(1)}
	f, err := project.Compose(s, o, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), f.EnvFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(dir, ".env")})
	if err != nil {
		t.Fatalf("compose does not read the .env file: %v", err)
	}
	for k, v := range f.Env() {
		if env[k] != v {
			t.Errorf("the .env file gives %s another value", k)
		}
	}
}

// TestComposeExportLoadsWithSplitLimits: a template's mem_limit merged
// with an instance's deploy.resources.limits.cpus is a service compose's
// loader would refuse; the export repeats the limit in deploy.resources,
// loads, and warns that this service's config hash differs.
func TestComposeExportLoadsWithSplitLimits(t *testing.T) {
	s := exportStack()
	api := &s.Instances[0]
	api.Effective.Options.MemLimit = 256 << 20
	o := project.Options{StateDir: "/state", WorkspaceDir: "/ws", Keys: testRing(1)}
	f, err := project.Compose(s, o, false)
	if err != nil {
		t.Fatal(err)
	}
	loaded := loadCompose(t, f.Data, f.Env())
	if got := loaded.Services["api"].Deploy.Resources.Limits.MemoryBytes; got != 256<<20 {
		t.Errorf("deploy.resources.limits.memory = %d", got)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "Service api sets mem_limit beside deploy.resources") {
		t.Errorf("warnings = %q", f.Warnings)
	}
}

// TestComposeExportOfADisabledStack: a disabled stack has no service, and
// its compose file still loads.
func TestComposeExportOfADisabledStack(t *testing.T) {
	s := exportStack()
	s.Enabled = false
	f, err := project.Compose(s, project.Options{StateDir: "/state", WorkspaceDir: "/ws", Keys: testRing(1)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if p := loadCompose(t, f.Data, f.Env()); len(p.Services) != 0 {
		t.Errorf("%d services", len(p.Services))
	}
}
