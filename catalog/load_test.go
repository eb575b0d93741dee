package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// loadFixture copies testdata/<fixture> to <tmp>/fixtures/<name>/compose.yml,
// writes the extra files (paths relative to the template folder) and loads
// it.
func loadFixture(t *testing.T, fixture, name string, files map[string]string) (Result, string, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "fixtures", name)
	writeFile(t, filepath.Join(dir, "compose.yml"), string(data))
	for p, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), content)
	}
	path := filepath.Join(dir, "compose.yml")
	res, err := LoadFile(path)
	return res, path, err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	testenv.MkdirAll(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func warningKeys(ws []Warning) []string {
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.Key
	}
	return keys
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func sec(d time.Duration) spec.Duration { return spec.Duration(d) }

func TestLoadFileMapping(t *testing.T) {
	tests := []struct {
		fixture string
		name    string // template folder and service name
		files   map[string]string
		want    spec.ServiceSpec
		// wantWarnings are the warning keys, in order.
		wantWarnings []string
	}{
		{
			fixture: "scalars.yml", name: "app",
			want: spec.ServiceSpec{
				Image:      "ghcr.io/example/app:1.2",
				Command:    []string{"sh", "-c", "echo 'hello world' && sleep 1"},
				Entrypoint: []string{"/sbin/tini", "--"},
				WorkingDir: "/srv",
				User:       "1000:1000",
				Privileged: true,
				CapAdd:     []string{"NET_ADMIN", "IPC_LOCK"},
				Restart:    "on-failure:3",
				Labels: []spec.Label{
					{Key: "com.example.team", Value: "platform"},
					{Key: "com.example.tier", Value: "2"},
				},
			},
		},
		{
			fixture: "env.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Env: []spec.EnvVar{
					{Key: "API_TOKEN", Value: "abc", Secret: true},
					{Key: "DB_PASSWORD", Value: "hunter2", Secret: true},
					{Key: "EMPTY", Value: ""},
					{Key: "NUMBER", Value: "3000"},
					{Key: "PLAIN", Value: "value"},
				},
			},
			wantWarnings: []string{"services.app.environment.FROM_SHELL"},
		},
		{
			fixture: "ports.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Ports: []spec.Port{
					{HostPort: 53, ContainerPort: 53, Protocol: "udp"},
					{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
					{HostPort: 9000, ContainerPort: 90, Protocol: "tcp"},
					{HostPort: 9001, ContainerPort: 91, Protocol: "tcp"},
					{HostIP: "127.0.0.1", HostPort: 9100, ContainerPort: 100, Protocol: "tcp"},
					{HostIP: "0.0.0.0", HostPort: 3001, ContainerPort: 3000, Protocol: "tcp"},
					{ContainerPort: 7000, Protocol: "tcp"},
				},
			},
		},
		{
			fixture: "ports-extras.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Ports: []spec.Port{{HostPort: 3001, ContainerPort: 3000, Protocol: "tcp"}},
			},
			wantWarnings: []string{
				"services.app.ports[0].mode", "services.app.ports[0].name",
				"services.app.ports[0].app_protocol", "services.app.ports[1]",
			},
		},
		{
			fixture: "volumes.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Volumes: []spec.Volume{
					{Type: "volume", Target: "/cache"},
					{Type: "bind", Source: "./config/init.sh", Target: "/docker-entrypoint.d/init.sh", ReadOnly: true},
					{Type: "tmpfs", Target: "/run/app"},
					{Type: "bind", Source: "/srv/shared", Target: "/shared", ReadOnly: true},
					{Type: "volume", Source: "app_data", Target: "/var/lib/app"},
					{Type: "bind", Source: "../../../apps", Target: "/var/www/html"},
				},
			},
		},
		{
			fixture: "volumes-extras.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Volumes: []spec.Volume{
					{Type: "bind", Source: "./data", Target: "/data"},
					{Type: "volume", Source: "app_data", Target: "/nocopy"},
					{Type: "bind", Source: "~/dotfiles", Target: "/root/dotfiles"},
					{Type: "tmpfs", Target: "/scratch"},
				},
				VolumeDefs: []spec.VolumeDef{{Key: "app_data", Driver: "local", DriverOpts: map[string]string{"type": "none"}, Labels: map[string]string{"com.example": "x"}}},
			},
			wantWarnings: []string{
				"services.app.volumes[0]", "services.app.volumes[1]", "services.app.volumes[2]",
				"services.app.volumes[3]",
			},
		},
		{
			fixture: "healthcheck.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				Healthcheck: &spec.Healthcheck{
					Test:        []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
					Interval:    sec(10 * time.Second),
					Timeout:     sec(5 * time.Second),
					StartPeriod: sec(90 * time.Second),
					Retries:     4,
				},
			},
			wantWarnings: []string{"services.app.healthcheck.start_interval"},
		},
		{
			fixture: "healthcheck-disabled.yml", name: "app",
			want: spec.ServiceSpec{Image: "busybox:1.36", Healthcheck: &spec.Healthcheck{Disable: true}},
		},
		{
			fixture: "depends.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				DependsOn: []spec.Dependency{
					{Name: "cache", Condition: spec.ConditionStarted},
					{Name: "db", Condition: spec.ConditionHealthy},
					{Name: "migrate", Condition: spec.ConditionCompleted},
				},
			},
			wantWarnings: []string{"services.app.depends_on.cache.restart", "services.app.depends_on.migrate.required"},
		},
		{
			fixture: "depends-short.yml", name: "app",
			want: spec.ServiceSpec{
				Image: "busybox:1.36",
				DependsOn: []spec.Dependency{
					{Name: "db", Condition: spec.ConditionStarted},
					{Name: "selenium-hub", Condition: spec.ConditionStarted},
				},
			},
		},
		{
			fixture: "configfiles.yml", name: "proxy",
			files: map[string]string{
				"config/traefik.yml":        "entryPoints:\n  web:\n    address: \":80\"\n",
				"config/dynamic/routes.yml": "http: {}\n",
				"config/unused.txt":         "not referenced\n",
			},
			want: spec.ServiceSpec{
				Image:   "traefik:v3.2",
				Volumes: []spec.Volume{{Type: "volume", Source: "proxy_data", Target: "/data"}},
				ConfigFiles: []spec.ConfigFile{
					{Path: "dynamic/routes.yml", Target: "/etc/traefik/dynamic/routes.yml", Content: "http: {}\n", Mode: 0o644},
					{Path: "traefik.yml", Target: "/etc/traefik/traefik.yml", Content: "entryPoints:\n  web:\n    address: \":80\"\n", Mode: 0o644},
				},
			},
			wantWarnings: []string{"services.proxy.volumes[0]"},
		},
		{
			fixture: "build.yml", name: "php",
			want: spec.ServiceSpec{WorkingDir: "/var/www/html", Build: &spec.Build{
				Context: "config", Dockerfile: "Dockerfile", Args: map[string]string{"COMPOSER_VERSION": "2"}, Target: "dev",
				Labels: map[string]string{"team": "web"}, Network: "host", NoCache: true, ShmSize: 64 << 20, ExtraHosts: []string{"db.local=10.0.0.5"},
			}},
			wantWarnings: []string{"services.php.build.cache_from", "services.php.build.platforms", "services.php.build.pull"},
		},
		{
			fixture: "build-with-image.yml", name: "php",
			want:         spec.ServiceSpec{Image: "local/php:dev", Build: &spec.Build{Context: "config", Dockerfile: "Dockerfile"}},
			wantWarnings: []string{},
		},
		{
			fixture: "unsupported.yml", name: "app",
			want: spec.ServiceSpec{Image: "busybox:1.36", Options: spec.Options{
				Hostname:        "app-host",
				ExtraHosts:      []string{"host.docker.internal=host-gateway"},
				Ulimits:         map[string]spec.Ulimit{"nofile": {Soft: 65536, Hard: 65536}},
				Tmpfs:           []string{"/tmp"},
				DNS:             []string{"1.1.1.1"},
				ShmSize:         256 << 20,
				StopGracePeriod: ptr(spec.Duration(30 * time.Second)),
				Sysctls:         map[string]string{"net.core.somaxconn": "1024"},
				Deploy:          &spec.Deploy{Resources: spec.Resources{Limits: &spec.Resource{Memory: 512 << 20}}},
				Init:            ptr(true),
			},
				// microservices-net (devarch's shared network) is the stack's own
				Networks:           spec.Networks{"default": nil, "backend": {Aliases: []string{"api"}}},
				NetworkDefinitions: spec.NetworkDefinitions{"backend": {}},
			},
			wantWarnings: []string{
				"services.app.x-other", "services.app.profiles",
			},
		},
		{
			fixture: "variables.yml", name: "app",
			want: spec.ServiceSpec{
				Image:   "busybox:1.36",
				Command: []string{"sh", "-c", "echo $HOME ${GREETING} ${NAME} $$"},
				Env: []spec.EnvVar{
					{Key: "DEFAULTED", Value: "${UNSET_VAR:-fallback}"},
					{Key: "ESCAPED", Value: "${KEEP}"},
					{Key: "FROM_ENV", Value: "${DEVARCH_CATALOG_TEST_VAR}"},
				},
				Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "php -r '$c=1;if(!$c)exit(1);'"}},
			},
			wantWarnings: []string{
				"services.app.command[2]", "services.app.environment.FROM_ENV",
				"services.app.environment.DEFAULTED", "services.app.healthcheck.test[1]",
			},
		},
	}
	// The process environment must never leak into a template.
	t.Setenv("DEVARCH_CATALOG_TEST_VAR", "from-process-env")
	t.Setenv("NAME", "from-process-env")
	t.Setenv("c", "from-process-env")
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.fixture, ".yml"), func(t *testing.T) {
			res, path, err := loadFixture(t, tt.fixture, tt.name, tt.files)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			tmpl := res.Template
			if tmpl.Name != tt.name || tmpl.Category != "fixtures" || tmpl.SourcePath != path {
				t.Errorf("template = %q/%q from %q, want %q/fixtures from %q", tmpl.Category, tmpl.Name, tmpl.SourcePath, tt.name, path)
			}
			if b := tt.want.Build; b != nil { // contexts resolve against the template's folder
				c := *b
				c.Context = filepath.Join(filepath.Dir(path), c.Context)
				tt.want.Build = &c
			}
			if !reflect.DeepEqual(normalizeEmpty(tmpl.Spec), normalizeEmpty(tt.want)) {
				t.Errorf("spec:\n%s\nwant:\n%s", mustJSON(tmpl.Spec), mustJSON(tt.want))
			}
			if got := warningKeys(res.Warnings); !reflect.DeepEqual(got, nonNilStrings(tt.wantWarnings)) {
				t.Errorf("warning keys:\n%q\nwant:\n%q", got, tt.wantWarnings)
			}
			for _, w := range res.Warnings {
				if w.File != path || w.Message == "" || !strings.HasPrefix(w.String(), path+": "+w.Key+": ") {
					t.Errorf("warning %+v does not name file %s and its key", w, path)
				}
			}
		})
	}
}

// normalizeEmpty makes nil and empty slices compare equal.
func normalizeEmpty(s spec.ServiceSpec) spec.ServiceSpec {
	var out spec.ServiceSpec
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &out)
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		fixture string
		files   map[string]string
		// wantErr are substrings the error must contain, besides the file.
		wantErr []string
	}{
		{fixture: "bad-yaml.yml", wantErr: []string{"parse compose file", "did not find expected"}},
		{fixture: "two-services.yml", wantErr: []string{"defines 2 services (web, worker)", "exactly one service"}},
		{fixture: "no-services.yml", wantErr: []string{"defines no service"}},
		{fixture: "missing-config.yml", wantErr: []string{"services.web.x-devarch-config.nginx.conf", filepath.Join("config", "nginx.conf"), "add the file or remove the entry"}},
		{
			fixture: "missing-config.yml",
			files:   map[string]string{"config/other.conf": "x"},
			wantErr: []string{filepath.Join("config", "nginx.conf") + " cannot be read: file does not exist"},
		},
		{
			fixture: "config-invalid.yml",
			files:   map[string]string{"config/a.conf": "a", "config/b.conf": "b", "config/relative.conf": "r"},
			wantErr: []string{
				`x-devarch-config.../../outside.conf: config file path "../../outside.conf" leaves`,
				`x-devarch-config.relative.conf: container path "etc/relative.conf" must be absolute`,
				`x-devarch-config.b.conf: container path /etc/same.conf is also the target of "a.conf"`,
				`x-devarch-config.not-a-string.conf: the container path must be a string`,
			},
		},
		{
			fixture: "missing-config.yml",
			files:   map[string]string{"config/nginx.conf": "\xff\xfe binary"},
			wantErr: []string{"not UTF-8 text"},
		},
		{
			fixture: "missing-config.yml",
			files:   map[string]string{"config/nginx.conf": strings.Repeat("x", MaxConfigFileSize+1)},
			wantErr: []string{"larger than 1 MiB"},
		},
		{fixture: "bad-port.yml", wantErr: []string{"parse compose file", "abc"}},
		{fixture: "reserved-label.yml", wantErr: []string{`label "devarch.stack" is reserved`, `label "com.docker.compose.project" is reserved`}},
		{fixture: "bad-healthcheck.yml", wantErr: []string{"healthcheck.test must start"}},
		{fixture: "undefined-volume.yml", wantErr: []string{"undefined volume undeclared"}},
		{fixture: "bad-image.yml", wantErr: []string{"services.web.image", "not a valid image reference"}},
		{fixture: "bad-env-key.yml", wantErr: []string{`"1BAD" is invalid`, `"WITH SPACE" is invalid`}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.fixture, ".yml"), func(t *testing.T) {
			res, path, err := loadFixture(t, tt.fixture, "web", tt.files)
			if err == nil {
				t.Fatalf("LoadFile succeeded with %s, want an error", mustJSON(res))
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "load template "+path+": ") {
				t.Errorf("error %q does not start by naming the file", msg)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if !reflect.DeepEqual(res, Result{}) {
				t.Errorf("result on error = %+v, want empty", res)
			}
		})
	}
}

func TestLoadFileConfigSymlinkCannotEscape(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	writeFile(t, outside, "top secret")
	dir := filepath.Join(t.TempDir(), "web", "nginx")
	writeFile(t, filepath.Join(dir, "compose.yml"), "services:\n  nginx:\n    image: nginx:1.27\n    x-devarch-config:\n      nginx.conf: /etc/nginx/nginx.conf\n")
	testenv.MkdirAll(t, filepath.Join(dir, "config"))
	testenv.Symlink(t, outside, filepath.Join(dir, "config", "nginx.conf"))
	_, err := LoadFile(filepath.Join(dir, "compose.yml"))
	if err == nil || !strings.Contains(err.Error(), "nginx.conf") {
		t.Fatalf("LoadFile = %v, want an error naming nginx.conf", err)
	}
	if strings.Contains(err.Error(), "top secret") {
		t.Fatalf("error leaks file content: %v", err)
	}
}

func TestLoadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "compose.yml")
	_, err := LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadFile = %v, want an error naming %s", err, path)
	}
}

func ptr[T any](v T) *T { return &v }
