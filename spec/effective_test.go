package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func tmplSpec() *ServiceSpec {
	return &ServiceSpec{
		Image:      "postgres:16",
		Command:    []string{"postgres", "-c", "fsync=off"},
		WorkingDir: "/var/lib",
		Env: []EnvVar{
			{Key: "POSTGRES_USER", Value: "postgres"},
			{Key: "POSTGRES_DB", Value: "devarch"},
		},
		Ports:   []Port{{HostIP: "127.0.0.1", HostPort: 8502, ContainerPort: 5432, Protocol: "tcp"}},
		Volumes: []Volume{{Type: VolumeTypeVolume, Source: "data", Target: "/data"}},
		Labels:  []Label{{Key: "tier", Value: "db"}, {Key: "team", Value: "core"}},
		Healthcheck: &Healthcheck{
			Test: []string{"CMD-SHELL", "pg_isready"}, Interval: Duration(10 * time.Second), Retries: 5,
		},
		Restart:     "unless-stopped",
		DependsOn:   []Dependency{{Name: "cache"}},
		ConfigFiles: []ConfigFile{{Path: "pg.conf", Target: "/etc/pg.conf", Content: "a=1"}},
	}
}

func TestMergeRules(t *testing.T) {
	tests := []struct {
		name  string
		over  Overrides
		check func(t *testing.T, e Effective)
	}{
		{
			name: "no overrides inherits everything from the template",
			check: func(t *testing.T, e Effective) {
				wantSource(t, "image", e.Image.Source, SourceTemplate)
				wantSource(t, "command", e.Command.Source, SourceTemplate)
				wantSource(t, "ports", e.Ports.Source, SourceTemplate)
				wantSource(t, "volumes", e.Volumes.Source, SourceTemplate)
				wantSource(t, "healthcheck", e.Healthcheck.Source, SourceTemplate)
				wantSource(t, "restart", e.Restart.Source, SourceTemplate)
				wantSource(t, "depends_on", e.DependsOn.Source, SourceTemplate)
				if e.Image.Value != "postgres:16" || len(e.Env) != 2 || len(e.ConfigFiles) != 1 {
					t.Fatalf("unexpected effective spec: %+v", e)
				}
				if e.DependsOn.Value[0].Condition != ConditionStarted {
					t.Errorf("default dependency condition = %q, want %q", e.DependsOn.Value[0].Condition, ConditionStarted)
				}
			},
		},
		{
			name: "scalar overrides win",
			over: Overrides{ServiceSpec: ServiceSpec{Image: "postgres:17", Restart: "always", WorkingDir: "/x", User: "1000"}},
			check: func(t *testing.T, e Effective) {
				if e.Image != (Value[string]{"postgres:17", SourceUser}) {
					t.Errorf("image = %+v", e.Image)
				}
				if e.Restart != (Value[string]{"always", SourceUser}) {
					t.Errorf("restart = %+v", e.Restart)
				}
				wantSource(t, "working_dir", e.WorkingDir.Source, SourceUser)
				wantSource(t, "user", e.User.Source, SourceUser)
			},
		},
		{
			name: "command override replaces the whole command",
			over: Overrides{ServiceSpec: ServiceSpec{Command: []string{"sleep", "1"}}},
			check: func(t *testing.T, e Effective) {
				if !reflect.DeepEqual(e.Command.Value, []string{"sleep", "1"}) || e.Command.Source != SourceUser {
					t.Errorf("command = %+v", e.Command)
				}
			},
		},
		{
			name: "ports replace all when the instance sets any",
			over: Overrides{ServiceSpec: ServiceSpec{Ports: []Port{{HostPort: 15432, ContainerPort: 5432}}}},
			check: func(t *testing.T, e Effective) {
				want := []Port{{HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}}
				if !reflect.DeepEqual(e.Ports.Value, want) || e.Ports.Source != SourceUser {
					t.Errorf("ports = %+v, want %+v from user", e.Ports, want)
				}
			},
		},
		{
			name: "volumes replace all when the instance sets any",
			over: Overrides{ServiceSpec: ServiceSpec{Volumes: []Volume{{Type: VolumeTypeVolume, Source: "other", Target: "/other"}}}},
			check: func(t *testing.T, e Effective) {
				if len(e.Volumes.Value) != 1 || e.Volumes.Value[0].Source != "other" || e.Volumes.Source != SourceUser {
					t.Errorf("volumes = %+v", e.Volumes)
				}
			},
		},
		{
			name: "dependencies replace all when the instance sets any",
			over: Overrides{ServiceSpec: ServiceSpec{DependsOn: []Dependency{{Name: "db", Condition: ConditionHealthy}}}},
			check: func(t *testing.T, e Effective) {
				want := []Dependency{{Name: "db", Condition: ConditionHealthy}}
				if !reflect.DeepEqual(e.DependsOn.Value, want) || e.DependsOn.Source != SourceUser {
					t.Errorf("depends_on = %+v", e.DependsOn)
				}
			},
		},
		{
			name: "env merges by key with the instance winning",
			over: Overrides{ServiceSpec: ServiceSpec{Env: []EnvVar{
				{Key: "POSTGRES_DB", Value: "shop"},
				{Key: "POSTGRES_PASSWORD", Value: "s3cret", Secret: true},
			}}},
			check: func(t *testing.T, e Effective) {
				want := []EnvVar{
					{Key: "POSTGRES_DB", Value: "shop", Source: SourceUser},
					{Key: "POSTGRES_PASSWORD", Value: "s3cret", Secret: true, Source: SourceUser},
					{Key: "POSTGRES_USER", Value: "postgres", Source: SourceTemplate},
				}
				if !reflect.DeepEqual(e.Env, want) {
					t.Errorf("env = %+v\nwant %+v", e.Env, want)
				}
			},
		},
		{
			name: "labels merge by key with the instance winning",
			over: Overrides{ServiceSpec: ServiceSpec{Labels: []Label{{Key: "tier", Value: "api"}, {Key: "new", Value: "1"}}}},
			check: func(t *testing.T, e Effective) {
				want := []Label{
					{Key: "new", Value: "1", Source: SourceUser},
					{Key: "team", Value: "core", Source: SourceTemplate},
					{Key: "tier", Value: "api", Source: SourceUser},
				}
				if !reflect.DeepEqual(e.Labels, want) {
					t.Errorf("labels = %+v", e.Labels)
				}
			},
		},
		{
			name: "config files merge by path with the instance winning",
			over: Overrides{ServiceSpec: ServiceSpec{ConfigFiles: []ConfigFile{
				{Path: "pg.conf", Target: "/etc/pg.conf", Content: "a=2", Mode: 0o600},
				{Path: "app.env", Target: "/app/.env", Content: "X=1"},
			}}},
			check: func(t *testing.T, e Effective) {
				want := []ConfigFile{
					{Path: "app.env", Target: "/app/.env", Content: "X=1", Mode: DefaultFileMode, Source: SourceUser},
					{Path: "pg.conf", Target: "/etc/pg.conf", Content: "a=2", Mode: 0o600, Source: SourceUser},
				}
				if !reflect.DeepEqual(e.ConfigFiles, want) {
					t.Errorf("config files = %+v", e.ConfigFiles)
				}
			},
		},
		{
			name: "healthcheck is replaced whole",
			over: Overrides{ServiceSpec: ServiceSpec{Healthcheck: &Healthcheck{Test: []string{"CMD", "true"}}}},
			check: func(t *testing.T, e Effective) {
				h := e.Healthcheck.Value
				if e.Healthcheck.Source != SourceUser || h.Retries != 0 || h.Interval != 0 || !reflect.DeepEqual(h.Test, []string{"CMD", "true"}) {
					t.Errorf("healthcheck = %+v (source %s); want the override alone", h, e.Healthcheck.Source)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := tmplSpec()
			before, _ := json.Marshal(tmpl)
			tt.check(t, Merge(tmpl, tt.over))
			after, _ := json.Marshal(tmpl)
			if string(before) != string(after) {
				t.Errorf("Merge modified the template")
			}
		})
	}
}

func TestMergeWithoutTemplateIsAllUser(t *testing.T) {
	e := Merge(nil, Overrides{ServiceSpec: ServiceSpec{Image: "busybox", Ports: []Port{{ContainerPort: 80}}}})
	if e.Image.Source != SourceUser || e.Ports.Source != SourceUser {
		t.Fatalf("sources = %s/%s, want user", e.Image.Source, e.Ports.Source)
	}
	if e.Env == nil || e.Labels == nil || e.ConfigFiles == nil || e.Volumes.Value == nil || e.Command.Value == nil {
		t.Fatalf("collections must be empty, not nil: %+v", e)
	}
}

func TestMergeIsDeterministic(t *testing.T) {
	over := Overrides{ServiceSpec: ServiceSpec{
		Env:    []EnvVar{{Key: "B", Value: "2"}, {Key: "A", Value: "1"}, {Key: "C", Value: "3"}},
		Labels: []Label{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}},
		Ports:  []Port{{ContainerPort: 90}, {ContainerPort: 80}},
	}}
	first, _ := json.Marshal(Merge(tmplSpec(), over))
	for i := 0; i < 50; i++ {
		got, _ := json.Marshal(Merge(tmplSpec(), over))
		if string(got) != string(first) {
			t.Fatalf("merge output differs between runs:\n%s\n%s", first, got)
		}
	}
}

func TestRedacted(t *testing.T) {
	e := Merge(nil, Overrides{ServiceSpec: ServiceSpec{Env: []EnvVar{
		{Key: "PLAIN", Value: "visible"},
		{Key: "DB_PASSWORD", Value: "hunter2"},
		{Key: "WHATEVER", Value: "marked", Secret: true},
	}}})
	r := e.Redacted()
	b, _ := json.Marshal(r)
	for _, secret := range []string{"hunter2", "marked"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("redacted spec contains %q: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), "visible") {
		t.Errorf("redaction removed a plain value: %s", b)
	}
	if e.EnvMap()["DB_PASSWORD"] != "hunter2" {
		t.Errorf("Redacted modified the original")
	}
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"POSTGRES_PASSWORD": true, "MSSQL_SA_PASSWORD": true, "APP_KEY": true, "API_TOKEN": true,
		"JWT_SECRET": true, "aws_secret_access_key": true, "GITHUB_TOKEN": true, "MYSQL_ROOT_PASSWD": true,
		"KEYCLOAK_ADMIN": false, "NODE_ENV": false, "PORT": false, "POSTGRES_USER": false, "MONKEY": false,
		"TOKENIZER_MODE": false,
	} {
		if got := IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func wantSource(t *testing.T, field string, got, want Source) {
	t.Helper()
	if got != want {
		t.Errorf("%s source = %q, want %q", field, got, want)
	}
}
