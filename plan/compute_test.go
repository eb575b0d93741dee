package plan

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/spec"
)

func TestConvergedStackHasEmptyPlan(t *testing.T) {
	s := shopStack()
	p := mustCompute(s, observedFor(s))
	if !p.Empty() {
		t.Fatalf("want no changes, got %+v", p.Changes)
	}
	if p.SummaryLine() != "No changes. Stack is up to date." {
		t.Errorf("summary line = %q", p.SummaryLine())
	}
	b, _ := json.Marshal(p)
	for _, want := range []string{`"changes":[]`, `"warnings":[]`, `"format_version":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

// TestFieldChanges edits one field kind of the desired state at a time and
// checks that the plan recreates exactly that instance and names exactly
// that field, with the right source.
func TestFieldChanges(t *testing.T) {
	db, edge := 0, 1
	tests := []struct {
		name       string
		edit       func(s *spec.Stack)
		instance   string
		wantPaths  []string
		wantSource spec.Source
	}{
		{"template image", func(s *spec.Stack) { s.Instances[db].Template.Spec.Image = "postgres:18.3" }, "db", []string{"image"}, spec.SourceTemplate},
		{"user image", func(s *spec.Stack) { s.Instances[db].Overrides.Image = "postgres:17" }, "db", []string{"image"}, spec.SourceUser},
		{"user command", func(s *spec.Stack) { s.Instances[db].Overrides.Command = []string{"postgres", "-c", "fsync=off"} }, "db", []string{"command"}, spec.SourceUser},
		{"template command", func(s *spec.Stack) { s.Instances[edge].Template.Spec.Command = []string{"--log.level=DEBUG"} }, "edge", []string{"command"}, spec.SourceTemplate},
		{"user entrypoint", func(s *spec.Stack) { s.Instances[edge].Overrides.Entrypoint = []string{"/bin/sh", "-c"} }, "edge", []string{"entrypoint"}, spec.SourceUser},
		{"user env value", func(s *spec.Stack) { s.Instances[db].Overrides.Env[0].Value = "shop2" }, "db", []string{"env.POSTGRES_DB"}, spec.SourceUser},
		{"template env value", func(s *spec.Stack) { s.Instances[db].Template.Spec.Env[0].Value = "admin" }, "db", []string{"env.POSTGRES_USER"}, spec.SourceTemplate},
		{"env key added", func(s *spec.Stack) {
			s.Instances[db].Overrides.Env = append(s.Instances[db].Overrides.Env, spec.EnvVar{Key: "PGDATA", Value: "/data"})
		}, "db", []string{"env.PGDATA"}, spec.SourceUser},
		{"template env key removed, instance overrides env", func(s *spec.Stack) { s.Instances[db].Template.Spec.Env = s.Instances[db].Template.Spec.Env[1:] }, "db", []string{"env.POSTGRES_USER"}, spec.SourceUser},
		{"template label removed", func(s *spec.Stack) { s.Instances[edge].Template.Spec.Labels = nil }, "edge", []string{"labels.tier"}, spec.SourceTemplate},
		{"user env key removed", func(s *spec.Stack) { s.Instances[db].Overrides.Env = nil }, "db", []string{"env.POSTGRES_DB"}, spec.SourceTemplate},
		{"ports", func(s *spec.Stack) { s.Instances[db].Overrides.Ports[0].HostPort = 15433 }, "db", []string{"ports"}, spec.SourceUser},
		{"template ports", func(s *spec.Stack) {
			s.Instances[edge].Template.Spec.Ports = []spec.Port{{HostIP: "127.0.0.1", HostPort: 4001, ContainerPort: 80}}
		}, "edge", []string{"ports"}, spec.SourceTemplate},
		{"volumes", func(s *spec.Stack) {
			s.Instances[db].Overrides.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "shop_data", Target: "/var/lib/postgresql/data"}}
		}, "db", []string{"volumes"}, spec.SourceUser},
		{"config file content", func(s *spec.Stack) { s.Instances[edge].Template.Spec.ConfigFiles[0].Content = "log: {level: DEBUG}\n" }, "edge", []string{"config_files.traefik.yml"}, spec.SourceTemplate},
		{"config file added", func(s *spec.Stack) {
			s.Instances[edge].Overrides.ConfigFiles = []spec.ConfigFile{{Path: "dynamic/routes.yml", Target: "/etc/traefik/dynamic/routes.yml", Content: "http: {}\n"}}
		}, "edge", []string{"config_files.dynamic/routes.yml"}, spec.SourceUser},
		{"config file mode", func(s *spec.Stack) {
			o := s.Instances[edge].Template.Spec.ConfigFiles[0]
			o.Mode = 0o600
			s.Instances[edge].Overrides.ConfigFiles = []spec.ConfigFile{o}
		}, "edge", []string{"config_files.traefik.yml"}, spec.SourceUser},
		{"label", func(s *spec.Stack) { s.Instances[edge].Overrides.Labels = []spec.Label{{Key: "tier", Value: "front"}} }, "edge", []string{"labels.tier"}, spec.SourceUser},
		{"healthcheck", func(s *spec.Stack) { s.Instances[db].Template.Spec.Healthcheck.Retries = 3 }, "db", []string{"healthcheck"}, spec.SourceTemplate},
		{"healthcheck override", func(s *spec.Stack) { s.Instances[db].Overrides.Healthcheck = &spec.Healthcheck{Disable: true} }, "db", []string{"healthcheck"}, spec.SourceUser},
		{"restart", func(s *spec.Stack) { s.Instances[db].Overrides.Restart = "always" }, "db", []string{"restart"}, spec.SourceUser},
		{"working dir", func(s *spec.Stack) { s.Instances[edge].Overrides.WorkingDir = "/srv" }, "edge", []string{"working_dir"}, spec.SourceUser},
		{"user", func(s *spec.Stack) { s.Instances[edge].Overrides.User = "1000:1000" }, "edge", []string{"user"}, spec.SourceUser},
		{"privileged", func(s *spec.Stack) { s.Instances[edge].Overrides.Privileged = true }, "edge", []string{"privileged"}, spec.SourceUser},
		{"cap_add", func(s *spec.Stack) { s.Instances[edge].Overrides.CapAdd = []string{"NET_ADMIN"} }, "edge", []string{"cap_add"}, spec.SourceUser},
		{"depends_on", func(s *spec.Stack) { s.Instances[edge].Overrides.DependsOn = []spec.Dependency{{Name: "db"}} }, "edge", []string{"depends_on"}, spec.SourceUser},
		{"network name", func(s *spec.Stack) { s.NetworkName = "custom-shop-net" }, "*", []string{"networks"}, spec.SourceUser},
		{"instance rename", func(s *spec.Stack) { s.Instances[edge].Name = "gateway" }, "gateway", []string{"name"}, spec.SourceUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shopStack()
			obs := observedFor(s)
			edited := shopStack()
			tt.edit(&edited)
			edited = remerge(edited)
			p := mustCompute(edited, obs)
			if len(p.Changes) == 0 {
				t.Fatalf("no changes; want %v", tt.wantPaths)
			}
			for _, c := range p.Changes {
				if tt.instance != "*" && c.Instance != tt.instance {
					t.Errorf("unexpected change to %q: %+v", c.Instance, c)
					continue
				}
				if c.Action != ActionModify || !c.Recreate {
					t.Errorf("%s: action %s recreate=%v, want modify with recreate", c.Instance, c.Action, c.Recreate)
				}
				if got := paths(c.Fields); !slices.Equal(got, tt.wantPaths) {
					t.Errorf("%s: fields %v, want %v (%+v)", c.Instance, got, tt.wantPaths, c.Fields)
				}
				for _, f := range c.Fields {
					if f.Source != tt.wantSource {
						t.Errorf("%s: source %q, want %q", f.Path, f.Source, tt.wantSource)
					}
				}
			}
			if tt.instance != "*" && len(p.Changes) != 1 {
				t.Errorf("want exactly one change, got %d", len(p.Changes))
			}
		})
	}
}

func TestAddWhenNoContainer(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	obs.Containers = obs.Containers[:1] // edge has no container
	p := mustCompute(s, obs)
	if p.Summary != (Summary{Add: 1}) {
		t.Fatalf("summary = %+v, want one add", p.Summary)
	}
	c := p.Changes[0]
	if c.Instance != "edge" || c.Action != ActionAdd || c.Container != "devarch-shop-edge" {
		t.Fatalf("change = %+v", c)
	}
	want := []string{"image", "command", "labels.tier", "config_files.traefik.yml"}
	if got := paths(c.Fields); !slices.Equal(got, want) {
		t.Errorf("add fields = %v, want %v", got, want)
	}
	if c.Fields[0].Old != nil || *c.Fields[0].New != "traefik:v3.2" || c.Fields[0].Source != spec.SourceTemplate {
		t.Errorf("image field = %+v", c.Fields[0])
	}
	if p.SummaryLine() != "Plan: 1 to add, 0 to modify, 0 to remove." {
		t.Errorf("summary line = %q", p.SummaryLine())
	}
}

func TestRemovals(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(s *spec.Stack, obs *Observed)
		wantRemove []string
		wantReason string
	}{
		{"instance disabled", func(s *spec.Stack, _ *Observed) { s.Instances[1].Enabled = false }, []string{"edge"}, "the instance is disabled"},
		{"instance deleted", func(s *spec.Stack, _ *Observed) { s.Instances = s.Instances[:1] }, []string{"edge"}, "no longer exists"},
		{"stack disabled", func(s *spec.Stack, _ *Observed) { s.Enabled = false }, []string{"db", "edge"}, "the stack is disabled"},
		{"unknown to the database", func(_ *spec.Stack, obs *Observed) {
			c := obs.Containers[0]
			c.ID, c.InstanceID, c.InstanceName, c.Name = "ffff", 999, "ghost", "/devarch-shop-ghost"
			obs.Containers = append(obs.Containers, c)
		}, []string{"ghost"}, "no longer exists"},
		{"no instance label", func(_ *spec.Stack, obs *Observed) {
			c := obs.Containers[0]
			c.ID, c.InstanceID, c.InstanceName, c.Service, c.Name = "eeee", 0, "", "", "/stray"
			obs.Containers = append(obs.Containers, c)
		}, []string{"stray"}, "no valid instance id"},
		{"duplicate container", func(_ *spec.Stack, obs *Observed) {
			c := obs.Containers[0]
			c.ID, c.Created = "dddd", c.Created.Add(-time.Hour)
			obs.Containers = append(obs.Containers, c)
		}, []string{"db"}, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shopStack()
			obs := observedFor(s)
			tt.edit(&s, &obs)
			p := mustCompute(s, obs)
			var got []string
			for _, c := range p.Changes {
				if c.Action != ActionRemove {
					t.Errorf("unexpected %s of %s: %+v", c.Action, c.Instance, c)
					continue
				}
				got = append(got, c.Instance)
				if !strings.Contains(c.Reason, tt.wantReason) {
					t.Errorf("%s: reason %q lacks %q", c.Instance, c.Reason, tt.wantReason)
				}
			}
			if !slices.Equal(got, tt.wantRemove) {
				t.Errorf("removed %v, want %v", got, tt.wantRemove)
			}
			if p.Summary.Remove != len(tt.wantRemove) {
				t.Errorf("summary %+v", p.Summary)
			}
		})
	}
}

func TestContainersOfOtherStacksAreIgnored(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	other := obs.Containers[0]
	other.StackID, other.InstanceID = 99, 991
	obs.Containers = append(obs.Containers, other)
	if p := mustCompute(s, obs); !p.Empty() {
		t.Fatalf("another stack's container changed the plan: %+v", p.Changes)
	}
}

func TestMatchingIsByIDNotName(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	obs.Containers[0].Name = "/renamed-by-someone"
	if p := mustCompute(s, obs); !p.Empty() {
		t.Fatalf("a container renamed at runtime must still match its instance: %+v", p.Changes)
	}
}

func TestRuntimeDrift(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(c *spec.Container, obs *Observed)
		wantPath     string
		wantRecreate bool
		wantReason   string
	}{
		{"stopped", func(c *spec.Container, _ *Observed) { c.State, c.ExitCode = spec.StateExited, 137 }, "state", false, "start: container is exited"},
		{"created only", func(c *spec.Container, _ *Observed) { c.State = spec.StateCreated }, "state", false, "start: container is created"},
		{"paused", func(c *spec.Container, _ *Observed) { c.State = spec.StatePaused }, "state", false, "unpause: container is paused"},
		{"restart loop", func(c *spec.Container, _ *Observed) {
			c.State, c.ExitCode, c.RestartCount = spec.StateRestarting, 1, 4
		}, "state", false, "restart: container is in a restart loop"},
		{"unhealthy", func(c *spec.Container, _ *Observed) { c.Health = spec.HealthUnhealthy }, "state", false, "restart: container is unhealthy"},
		{"left its network", func(c *spec.Container, _ *Observed) { c.Networks = map[string]string{"bridge": "b1"} }, "networks", true, "left its network"},
		{"image moved", func(_ *spec.Container, obs *Observed) {
			obs.ImageIDs["postgres:18.2"] = "sha256:" + strings.Repeat("9", 64)
		}, "image", true, "image updated"},
		// Created by another compose version from an unchanged record:
		// compose's config hash decides, and it differs.
		{"changed outside", func(c *spec.Container, _ *Observed) {
			c.ConfigHash = "0000"
			c.Labels = maps.Clone(c.Labels)
			c.Labels[api.VersionLabel] = "2.0.0"
		}, "config", true, "configuration changed"},
		{"no record", func(c *spec.Container, _ *Observed) { c.ConfigHash = "0000"; delete(c.Labels, spec.LabelSpec) }, "config", true, "configuration changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shopStack()
			obs := observedFor(s)
			tt.edit(&obs.Containers[0], &obs)
			p := mustCompute(s, obs)
			if len(p.Changes) != 1 {
				t.Fatalf("want one change, got %+v", p.Changes)
			}
			c := p.Changes[0]
			if c.Instance != "db" || c.Action != ActionModify || c.Recreate != tt.wantRecreate {
				t.Fatalf("change = %+v", c)
			}
			if got := paths(c.Fields); !slices.Equal(got, []string{tt.wantPath}) {
				t.Fatalf("fields = %v, want [%s]", got, tt.wantPath)
			}
			if c.Fields[0].Source != spec.SourceRuntime {
				t.Errorf("source = %s, want runtime", c.Fields[0].Source)
			}
			if !strings.Contains(c.Reason, tt.wantReason) {
				t.Errorf("reason %q lacks %q", c.Reason, tt.wantReason)
			}
		})
	}
}

func TestStoppedAndEditedContainerIsRecreated(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	obs.Containers[0].State = spec.StateExited
	s.Instances[0].Overrides.Image = "postgres:17"
	s = remerge(s)
	c := mustCompute(s, obs).Changes[0]
	if !c.Recreate || !slices.Equal(paths(c.Fields), []string{"image", "state"}) {
		t.Fatalf("change = %+v", c)
	}
	if !strings.HasPrefix(c.Reason, "recreate: ") {
		t.Errorf("reason = %q", c.Reason)
	}
}

func TestInstanceWithoutImageCannotBeApplied(t *testing.T) {
	s := shopStack()
	php := &spec.Template{ID: 13, Name: "php", Category: "backend", Spec: spec.ServiceSpec{}}
	s.Instances = append(s.Instances, instance(33, "php", php, spec.Overrides{}))
	p := mustCompute(s, observedFor(shopStack()))
	if len(p.Changes) != 1 || p.Changes[0].Instance != "php" || !strings.Contains(p.Changes[0].Reason, "no image") {
		t.Fatalf("changes = %+v", p.Changes)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], `template "php"`) {
		t.Fatalf("warnings = %v", p.Warnings)
	}
}

func TestUnsupportedPartsWarn(t *testing.T) {
	s := shopStack()
	s.Wires = []spec.Wire{{ConsumerInstance: "edge", ProviderInstance: "db"}}
	s.Instances[1].Overrides.Domains = []spec.Domain{{Domain: "shop.local", ProxyPort: 80}}
	s.Instances[1].Overrides.EnvFiles = []string{".env.local"}
	p := mustCompute(s, observedFor(s))
	if !p.Empty() {
		t.Fatalf("stored-only parts must not change the plan: %+v", p.Changes)
	}
	if len(p.Warnings) != 3 {
		t.Fatalf("warnings = %q", p.Warnings)
	}
}

func paths(fs []FieldChange) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Path
	}
	return out
}

// TestChangedSecretEmbeddedInACommand: a command line that passes a secret
// is recorded as a digest; when the secret changes, the plan names the
// command as changed because of the embedded secret, shows the new command
// with the secret hidden, and never shows the old one's secret.
func TestChangedSecretEmbeddedInACommand(t *testing.T) {
	mk := func(password string) spec.Stack {
		o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7",
			Env:     []spec.EnvVar{{Key: "REDIS_PASSWORD", Value: password}},
			Command: []string{"redis-server", "--requirepass", password}}}
		return spec.Stack{ID: 5, Name: "cache", Enabled: true, Instances: []spec.Instance{instance(51, "redis", nil, o)}}
	}
	old := mk("first-s3cret-value")
	obs := observedFor(old)
	cur := mk("second-s3cret-value")
	p := mustCompute(cur, obs)
	if len(p.Changes) != 1 {
		t.Fatalf("changes %+v, want one", p.Changes)
	}
	var cmd *FieldChange
	for i, f := range p.Changes[0].Fields {
		if f.Path == "command" {
			cmd = &p.Changes[0].Fields[i]
		}
	}
	if cmd == nil {
		t.Fatalf("fields %+v, want a command change", p.Changes[0].Fields)
	}
	if !cmd.Sensitive || cmd.Reason != "a secret embedded in its value changed" ||
		cmd.Old == nil || *cmd.Old != "redis-server --requirepass (sensitive)" || cmd.New == nil || *cmd.New != "redis-server --requirepass (sensitive)" {
		t.Errorf("command change %+v (old %v, new %v)", *cmd, deref(cmd.Old), deref(cmd.New))
	}
	var text, js strings.Builder
	if err := p.WriteText(&text, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"first-s3cret-value", "second-s3cret-value"} {
		if strings.Contains(text.String()+js.String(), secret) {
			t.Errorf("the plan shows %q:\n%s", secret, text.String())
		}
	}
}

// TestRecordDecidesWithoutHashing: for a container created by this
// compose version from the desired record, the record decides; compose's
// config hash is computed only when it cannot (another compose version,
// references to other containers, relative bind mounts).
func TestRecordDecidesWithoutHashing(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	obs.Containers[0].ConfigHash = "forged"
	if p := mustCompute(s, obs); !p.Empty() {
		t.Fatalf("an equal record must decide convergence, got %+v", p.Changes)
	}
	db := s.Instances[0]
	if !recordDecides(obs.Containers[0], db) {
		t.Fatal("recordDecides = false for a plain instance")
	}
	withLinks := db
	withLinks.Effective.Options.Links = []string{"web"}
	withBind := db
	withBind.Effective.Volumes.Value = []spec.Volume{{Type: spec.VolumeTypeBind, Source: "./data", Target: "/data"}}
	other := obs.Containers[0]
	other.Labels = maps.Clone(other.Labels)
	other.Labels[api.VersionLabel] = "2.0.0"
	for name, tc := range map[string]struct {
		c    spec.Container
		inst spec.Instance
	}{"links": {obs.Containers[0], withLinks}, "relative bind": {obs.Containers[0], withBind}, "other compose": {other, db}} {
		if recordDecides(tc.c, tc.inst) {
			t.Errorf("%s: recordDecides = true, want the config hash compared", name)
		}
	}
}
