package stackfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// stackWithApp returns a stack file with a "db" instance and an "app"
// instance whose body (fields under app, unindented) is given.
func stackWithApp(body string) string {
	var b strings.Builder
	b.WriteString("version: 1\nstack:\n  name: s\ninstances:\n  db:\n    template: postgres\n  app:\n    template: node\n")
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		if line != "" {
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var testSecrets = mapSecrets(map[string]string{"PW": "pw-value", "TOKEN": "token-value"})

func dur(d time.Duration) spec.Duration { return spec.Duration(d) }

func TestParseInstanceFields(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		want         spec.Instance // Name, Template and Enabled default to app/node/true
		wantWarnings []string      // prefixes, in order
	}{
		{name: "defaults", body: "", want: spec.Instance{}},
		{name: "disabled", body: "enabled: false", want: spec.Instance{Enabled: false}},
		{name: "image", body: "image: ghcr.io/acme/api:2", want: spec.Instance{Overrides: ov(spec.ServiceSpec{Image: "ghcr.io/acme/api:2"})}},
		{
			name: "command string is split like compose",
			body: `command: sh -c "npm install && npm run dev" 'a b'`,
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Command: []string{"sh", "-c", "npm install && npm run dev", "a b"}})},
		},
		{
			name: "command and entrypoint lists",
			body: "command: [node, server.js]\nentrypoint: [/sbin/tini, --]",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Command: []string{"node", "server.js"}, Entrypoint: []string{"/sbin/tini", "--"}})},
		},
		{
			name: "environment scalars and secrets",
			body: "environment:\n  PORT: 3000\n  DEBUG: true\n  EMPTY: \"\"\n  DATABASE_URL: postgres://app:${SECRET:PW}@db/app?t=${SECRET:TOKEN}\n  DB_PASSWORD: literal\n  PLAIN: \"${NOT_A_SECRET}\"",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Env: []spec.EnvVar{
				{Key: "DATABASE_URL", Value: "postgres://app:pw-value@db/app?t=token-value", Secret: true},
				{Key: "DB_PASSWORD", Value: "literal", Secret: true},
				{Key: "DEBUG", Value: "true"},
				{Key: "EMPTY", Value: ""},
				{Key: "PLAIN", Value: "${NOT_A_SECRET}"},
				{Key: "PORT", Value: "3000"},
			}})},
		},
		{
			name: "ports",
			body: "ports:\n  - {container_port: 8080}\n  - {host_ip: 127.0.0.1, host_port: 53, container_port: 53, protocol: UDP}\n  - {host_ip: '::1', host_port: 8443, container_port: 443, protocol: tcp}",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Ports: []spec.Port{
				{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Protocol: "udp"},
				{HostIP: "::1", HostPort: 8443, ContainerPort: 443, Protocol: "tcp"},
				{ContainerPort: 8080, Protocol: "tcp"},
			}})},
		},
		{
			name: "volumes",
			body: "volumes:\n  - {source: app_data, target: /data}\n  - {source: ./src, target: /app, read_only: true}\n  - {source: ../shared, target: /shared}\n  - {source: /var/run/docker.sock, target: /var/run/docker.sock}\n  - {target: /cache}",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Volumes: []spec.Volume{
				{Type: "volume", Source: "app_data", Target: "/data"},
				{Type: "bind", Source: "./src", Target: "/app", ReadOnly: true},
				{Type: "bind", Source: "../shared", Target: "/shared"},
				{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"},
				{Type: "volume", Target: "/cache"},
			}})},
		},
		{
			name: "healthcheck string becomes CMD-SHELL",
			body: "healthcheck:\n  test: curl -f http://localhost:3000/ || exit 1\n  interval: 1m30s\n  timeout: 500ms\n  start_period: 0s\n  retries: 0",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Healthcheck: &spec.Healthcheck{
				Test: []string{"CMD-SHELL", "curl -f http://localhost:3000/ || exit 1"}, Interval: dur(90 * time.Second), Timeout: dur(500 * time.Millisecond),
			}})},
		},
		{
			name: "healthcheck CMD string is split",
			body: "healthcheck:\n  test: CMD wget -q 'http://localhost/a b'",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Healthcheck: &spec.Healthcheck{Test: []string{"CMD", "wget", "-q", "http://localhost/a b"}}})},
		},
		{
			name: "healthcheck NONE",
			body: "healthcheck:\n  test: NONE",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Healthcheck: &spec.Healthcheck{Test: []string{"NONE"}}})},
		},
		{
			name: "healthcheck list",
			body: "healthcheck:\n  test: [CMD, pg_isready, -U, app]\n  retries: 3",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Healthcheck: &spec.Healthcheck{Test: []string{"CMD", "pg_isready", "-U", "app"}, Retries: 3}})},
		},
		{
			name: "dependencies",
			body: "dependencies: [db]",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{DependsOn: []spec.Dependency{{Name: "db", Condition: spec.ConditionStarted}}})},
		},
		{
			name: "labels",
			body: "labels:\n  com.example.team: web\n  tier: \"1\"",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{Labels: []spec.Label{{Key: "com.example.team", Value: "web"}, {Key: "tier", Value: "1"}}})},
		},
		{
			name: "config files and mounts",
			body: "config_files:\n  app.env:\n    content: \"A=1\\n\"\n    file_mode: \"0600\"\n  nested/b.conf:\n    content: b\n  c.conf:\n    content: c\n    file_mode: \"755\"\n" +
				"config_mounts:\n  - {source_path: config/app/app.env, target_path: /app/.env, config_file_path: app.env}\n  - {target_path: /etc/b.conf, config_file_path: nested/b.conf}\n  - {target_path: /etc/c.conf, config_file_path: c.conf}",
			want: spec.Instance{Overrides: ov(spec.ServiceSpec{ConfigFiles: []spec.ConfigFile{
				{Path: "app.env", Target: "/app/.env", Content: "A=1\n", Mode: 0o600},
				{Path: "c.conf", Target: "/etc/c.conf", Content: "c", Mode: 0o755},
				{Path: "nested/b.conf", Target: "/etc/b.conf", Content: "b", Mode: 0o644},
			}})},
		},
		{
			name: "kept but not applied",
			body: "env_files: [.env, .env.local]\nnetworks: [shared-net, s-net]\ndomains:\n  - {domain: app.local}\n  - {domain: '*.app.local', proxy_port: 8080}",
			want: spec.Instance{Overrides: spec.Overrides{
				ServiceSpec: spec.ServiceSpec{Networks: spec.Networks{"shared-net": nil, "s-net": nil}},
				EnvFiles:    []string{".env", ".env.local"},
				Domains:     []spec.Domain{{Domain: "app.local"}, {Domain: "*.app.local", ProxyPort: 8080}},
			}},
			wantWarnings: []string{
				"instances.app.env_files[0]: env file .env ", "instances.app.env_files[1]: env file .env.local ",
				"instances.app.domains[0]: domain app.local ", "instances.app.domains[1]: domain *.app.local (proxy port 8080) ",
				// networks the stack file does not define: ignored unless the template defines them
				"instances.app.networks: network s-net is not defined in the stack's networks section",
				"instances.app.networks: network shared-net is not defined",
			},
		},
		{
			name:         "secret reference outside the environment is kept literally",
			body:         "command: echo ${SECRET:PW}\nlabels:\n  x: ${SECRET:PW}",
			want:         spec.Instance{Overrides: ov(spec.ServiceSpec{Command: []string{"echo", "${SECRET:PW}"}, Labels: []spec.Label{{Key: "x", Value: "${SECRET:PW}"}}})},
			wantWarnings: []string{"instances.app.command: ${SECRET:...}", "instances.app.labels.x: ${SECRET:...}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(stackWithApp(tt.body)), testSecrets)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Stack.Instances) != 2 || f.Stack.Instances[0].Name != "app" {
				t.Fatalf("instances = %s", mustJSON(f.Stack.Instances))
			}
			want := tt.want
			want.Name = "app"
			want.Template = &spec.Template{Name: "node"}
			if tt.name != "disabled" {
				want.Enabled = true
			}
			if got := f.Stack.Instances[0]; !reflect.DeepEqual(got, want) {
				t.Errorf("instance:\n%s\nwant:\n%s", mustJSON(got), mustJSON(want))
			}
			if len(f.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, want %d", f.Warnings, len(tt.wantWarnings))
			}
			for i, w := range f.Warnings {
				if !strings.HasPrefix(w, tt.wantWarnings[i]) {
					t.Errorf("warning %d = %q, want prefix %q", i, w, tt.wantWarnings[i])
				}
				if strings.Contains(w, "pw-value") || strings.Contains(w, "token-value") {
					t.Errorf("warning leaks a secret: %q", w)
				}
			}
		})
	}
}

func ov(s spec.ServiceSpec) spec.Overrides { return spec.Overrides{ServiceSpec: s} }

func TestParseStack(t *testing.T) {
	f, err := Parse([]byte("version: 1\nstack:\n  name: empty\n  description: nothing yet\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Stack{Name: "empty", Description: "nothing yet", Enabled: true, Instances: []spec.Instance{}}
	if !reflect.DeepEqual(f.Stack, want) || len(f.Warnings) != 0 {
		t.Errorf("stack = %s, warnings %q", mustJSON(f.Stack), f.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		// want are "field: message" substrings, one per expected problem,
		// in order.
		want []string
	}{
		{"version missing", "stack: {name: s}", []string{`version: version is missing; add "version: 1"`}},
		{"version 2", "version: 2\nstack: {name: s}\nnew_field: x", []string{"version: version 2 is not supported; this controller reads version 1 stack files only"}},
		{"version string", "version: \"1\"\nstack: {name: s}", []string{"version 1 is not supported"}},
		{"empty", "", []string{"version is missing"}},
		{"not yaml", "version: 1\nstack: [", []string{"not valid YAML"}},
		{"two documents", "version: 1\nstack: {name: s}\n---\nversion: 1\n", []string{"more than one YAML document"}},
		{"unknown top-level field", "version: 1\nstack: {name: s}\nstacks: []", []string{`line 3: unknown field "stacks" in the top level; the fields are version, stack, instances, wires`}},
		{"unknown instance field", stackWithApp("imagee: x\nport: 1"), []string{
			`line 9: unknown field "imagee" in an instance; the fields are template, enabled, image,`,
			`line 10: unknown field "port" in an instance`,
		}},
		{"unknown port field", stackWithApp("ports:\n  - {container: 80}"), []string{`line 10: unknown field "container" in a port; the fields are host_ip, host_port, container_port, protocol`}},
		{"wrong types", stackWithApp("ports: \"8080:80\"\nenabled: maybe\nenvironment:\n  A: [1]\n  B:"), []string{
			"line 9: expected a list, found a string", "line 10: expected true or false, found a string",
			"line 12: an environment value must be a string",
		}},
		{"env without value", stackWithApp("environment:\n  B:\n  C: ~"), []string{
			`instances.app.environment.B: the variable has no value; write "" for an empty value`,
			"instances.app.environment.C: the variable has no value",
		}},
		{"stack name missing", "version: 1\nstack: {description: x}", []string{"stack.name: the stack has no name"}},
		{"stack name invalid", "version: 1\nstack: {name: Shop_Import}", []string{`stack.name: name "Shop_Import" is not DNS-safe`}},
		{"network name invalid", "version: 1\nstack: {name: s, network_name: 'my net'}", []string{`stack.network_name: network name "my net" is invalid`}},
		{"instance name invalid", "version: 1\nstack: {name: s}\ninstances:\n  API:\n    template: node", []string{`instances.API: instance name: name "API" is not DNS-safe`}},
		{"duplicate key", stackWithApp("template: \"\""), []string{`line 9: mapping key "template" already defined`}},
		{"template missing instance", "version: 1\nstack: {name: s}\ninstances:\n  api:\n  web:\n    image: nginx", []string{
			`instances.api.template: instance "api" is missing required field "template"`,
			`instances.web.template: instance "web" is missing required field "template"; name the catalog template it is based on`,
		}},
		{"template empty", "version: 1\nstack: {name: s}\ninstances:\n  api: {template: ''}", []string{`instances.api.template: instance "api" is missing required field "template"`}},
		{"template invalid", "version: 1\nstack: {name: s}\ninstances:\n  api: {template: 'node api'}", []string{`instances.api.template: template name "node api" is invalid`}},
		{"image invalid", stackWithApp("image: 'UPPER CASE'"), []string{"instances.app.image: image \"UPPER CASE\" is not a valid image reference"}},
		{"command quotes", stackWithApp(`command: sh -c "unterminated`), []string{"line 9: cannot split"}},
		{"command list of maps", stackWithApp("entrypoint: [{a: b}]"), []string{"line 9: expected a string in the list"}},
		{"env key", stackWithApp("environment:\n  1BAD: x"), []string{`instances.app.environment.1BAD: environment variable name "1BAD" is invalid`}},
		{"ports", stackWithApp("ports:\n  - {container_port: 0}\n  - {container_port: 80, host_port: 70000}\n  - {container_port: 80, host_ip: localhost}\n  - {container_port: 80, protocol: icmp}"), []string{
			"instances.app.ports[0]: container_port 0 is not between 1 and 65535",
			"instances.app.ports[1]: host_port 70000 is not between 0 and 65535",
			`instances.app.ports[2]: host_ip "localhost" is not an IP address`,
			`instances.app.ports[3]: protocol "icmp" is not one of tcp, udp, sctp`,
		}},
		{"volumes", stackWithApp("volumes:\n  - {source: data, target: data}\n  - {source: '~/x', target: /x}"), []string{
			`instances.app.volumes[0]: target "data" must be an absolute container path`,
			`instances.app.volumes[1]: source "~/x" is neither a volume name`,
		}},
		{"healthcheck", stackWithApp("healthcheck:\n  interval: 10\n  timeout: -1s\n  retries: -1"), []string{
			"instances.app.healthcheck.test: the healthcheck has no test",
			`instances.app.healthcheck.interval: interval "10" is not a duration`,
			`instances.app.healthcheck.timeout: timeout "-1s" is not a duration`,
			"instances.app.healthcheck.retries: retries -1 is negative",
		}},
		{"healthcheck test list", stackWithApp("healthcheck:\n  test: [curl, -f, x]"), []string{`instances.app.healthcheck.test: a test list must start with CMD, CMD-SHELL or NONE`}},
		{"healthcheck empty list", stackWithApp("healthcheck:\n  test: []"), []string{"instances.app.healthcheck.test: the test list is empty"}},
		{"healthcheck bare CMD-SHELL", stackWithApp("healthcheck:\n  test: CMD-SHELL"), []string{"instances.app.healthcheck.test: nothing follows CMD-SHELL"}},
		{"healthcheck empty string", stackWithApp("healthcheck:\n  test: '  '"), []string{"instances.app.healthcheck.test: the test is empty"}},
		{"dependencies", stackWithApp("dependencies: [app, cache, db, db]"), []string{
			`instances.app.dependencies[0]: instance "app" depends on itself`,
			`instances.app.dependencies[1]: depends on "cache", which is not an instance of this stack`,
			`instances.app.dependencies[3]: dependency "db" is listed twice`,
		}},
		{"reserved labels", stackWithApp("labels:\n  devarch.stack: x\n  com.docker.compose.project: y"), []string{
			`instances.app.labels.com.docker.compose.project: label "com.docker.compose.project" is reserved`,
			`instances.app.labels.devarch.stack: label "devarch.stack" is reserved for the controller (devarch.* and com.docker.compose.* keys); choose another key`,
		}},
		{"config files", stackWithApp("config_files:\n  ../x.conf: {content: x}\n  a.conf: {content: a, file_mode: '999'}\n  b.conf: {content: b, file_mode: '0o1777'}\n  unmounted.conf: {content: u}\n" +
			"config_mounts:\n  - {target_path: /etc/x.conf, config_file_path: ../x.conf}\n  - {target_path: /etc/a.conf, config_file_path: a.conf}\n  - {target_path: /etc/b.conf, config_file_path: b.conf}"), []string{
			`instances.app.config_files.../x.conf: config file path "../x.conf" leaves`,
			`instances.app.config_files.a.conf.file_mode: file_mode "999" is not an octal permission`,
			`instances.app.config_files.b.conf.file_mode: file_mode "0o1777" is not an octal permission`,
			`instances.app.config_files.unmounted.conf: config file "unmounted.conf" has no config_mounts entry, so it could not be mounted`,
		}},
		{"config mounts", stackWithApp("config_files:\n  a.conf: {content: a}\n  b.conf: {content: b}\n" +
			"config_mounts:\n  - {target_path: /etc/a.conf, config_file_path: a.conf}\n  - {target_path: /etc/a2.conf, config_file_path: a.conf}\n  - {target_path: /etc/a.conf, config_file_path: b.conf}\n  - {target_path: etc/b.conf, config_file_path: b.conf}\n  - {target_path: /etc/c.conf, config_file_path: c.conf}\n  - {target_path: /etc/d.conf}"), []string{
			`instances.app.config_mounts[1]: config file "a.conf" is already mounted at /etc/a.conf`,
			`instances.app.config_mounts[2]: target_path /etc/a.conf is also the target of config file "a.conf"`,
			`instances.app.config_mounts[3]: target_path "etc/b.conf" must be an absolute container path`,
			`instances.app.config_mounts[4]: config_file_path "c.conf" names no entry of config_files`,
			`instances.app.config_mounts[5]: config_file_path is missing`,
			`instances.app.config_files.b.conf: config file "b.conf" has no config_mounts entry`,
		}},
		{"domains", stackWithApp("domains:\n  - {domain: 'not a domain'}\n  - {domain: ok.local, proxy_port: 70000}"), []string{
			`instances.app.domains[0]: domain "not a domain" is not a host name`,
			"instances.app.domains[1]: proxy_port 70000 is not between 1 and 65535",
		}},
		{"env files and networks", stackWithApp("env_files: ['']\nnetworks: ['bad net']"), []string{
			`instances.app.env_files[0]: env file path "" is empty or invalid`,
			`instances.app.networks: network key "bad net" is invalid`,
		}},
		{"secrets", stackWithApp("environment:\n  A: ${SECRET:}\n  B: ${SECRET:1X}\n  C: ${SECRET:MISSING} and ${SECRET:PW}"), []string{
			"instances.app.environment.A: a ${SECRET:...} reference has an invalid name",
			"instances.app.environment.B: a ${SECRET:...} reference has an invalid name",
			`instances.app.environment.C: secret "MISSING" is not set`,
		}},
		{"wires", "version: 1\nstack: {name: s}\ninstances:\n  a: {template: x}\nwires:\n  - {consumer_instance: a, provider_instance: ghost}\n  - {consumer_instance: a, provider_instance: a}\n  - {provider_instance: a}", []string{
			`wires[0]: provider_instance "ghost" is not an instance of this stack`,
			`wires[1]: instance "a" is wired to itself`,
			"wires[2]: consumer_instance is missing",
		}},
		{"problems across instances, in instance order", "version: 1\nstack: {name: s}\ninstances:\n  zed: {template: x, image: 'B A D'}\n  alpha: {}\n  mid: {template: y, ports: [{container_port: 0}]}", []string{
			"instances.alpha.template:", "instances.mid.ports[0]:", "instances.zed.image:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.file), testSecrets)
			if err == nil {
				t.Fatalf("Parse succeeded: %s", mustJSON(f))
			}
			var verr *spec.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %v is a %T, want *spec.ValidationError", err, err)
			}
			if len(verr.Problems) != len(tt.want) {
				t.Fatalf("problems:\n%v\nwant %d", err, len(tt.want))
			}
			for i, p := range verr.Problems {
				if !strings.Contains(p.String(), tt.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p.String(), tt.want[i])
				}
			}
			if msg := err.Error(); strings.Contains(msg, "pw-value") || strings.Contains(msg, "token-value") || strings.Contains(msg, "stackfile.") {
				t.Errorf("error leaks a secret or a Go type: %q", msg)
			}
		})
	}
}

func TestParseErrorsNeverShowValues(t *testing.T) {
	// A literal password next to a broken field, and a resolved secret in an
	// instance with another problem: neither value may be shown.
	file := stackWithApp("environment:\n  DB_PASSWORD: hunter2-literal\n  KEY: ${SECRET:PW}\nports: [{container_port: 0}]\nhealthcheck: {test: [hunter2-literal]}")
	_, err := Parse([]byte(file), testSecrets)
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	for _, secret := range []string{"hunter2", "pw-value"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows a secret value: %v", err)
		}
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ParseFile(filepath.Join(dir, "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(big, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	if _, err := Parse(make([]byte, MaxFileSize+1), nil); err == nil {
		t.Error("Parse accepted an oversized input")
	}
}
