package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// env returns a LookupEnv over m, so tests never read the process env.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// baseEnv is a minimal environment: HOME for the state_dir default.
func baseEnv(extra ...string) map[string]string {
	m := map[string]string{"HOME": "/home/tester"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// flags returns the registered flag set after parsing args.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs, Defaults(env(baseEnv())))
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %v: %v", args, err)
	}
	return fs
}

// writeFile writes content to a temp file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "c.yml", "workers: 3\nresync_interval: 1m\nhttp_addr: 127.0.0.1:7001\n")
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		args       []string
		wantW      int
		wantResync time.Duration
		wantAddr   string
	}{
		{name: "defaults", env: baseEnv(),
			wantW: DefaultWorkers, wantResync: DefaultResyncInterval, wantAddr: DefaultHTTPAddr},
		{name: "file beats default", file: file, env: baseEnv(),
			wantW: 3, wantResync: time.Minute, wantAddr: "127.0.0.1:7001"},
		{name: "env beats file", file: file,
			env:   baseEnv("DEVARCH_WORKERS", "5", "DEVARCH_RESYNC_INTERVAL", "2m", "DEVARCH_HTTP_ADDR", "127.0.0.1:7002"),
			wantW: 5, wantResync: 2 * time.Minute, wantAddr: "127.0.0.1:7002"},
		{name: "flag beats env and file", file: file,
			env:   baseEnv("DEVARCH_WORKERS", "5", "DEVARCH_RESYNC_INTERVAL", "2m", "DEVARCH_HTTP_ADDR", "127.0.0.1:7002"),
			args:  []string{"--workers=7", "--resync-interval=3m", "--http-addr=127.0.0.1:7003"},
			wantW: 7, wantResync: 3 * time.Minute, wantAddr: "127.0.0.1:7003"},
		{name: "flag beats default", env: baseEnv(), args: []string{"--workers", "9"},
			wantW: 9, wantResync: DefaultResyncInterval, wantAddr: DefaultHTTPAddr},
		{name: "env beats default", env: baseEnv("DEVARCH_WORKERS", "6"),
			wantW: 6, wantResync: DefaultResyncInterval, wantAddr: DefaultHTTPAddr},
		{name: "empty env counts as unset", file: file, env: baseEnv("DEVARCH_WORKERS", ""),
			wantW: 3, wantResync: time.Minute, wantAddr: "127.0.0.1:7001"},
		{name: "each layer sets a different key", file: file,
			env:   baseEnv("DEVARCH_RESYNC_INTERVAL", "4m"),
			args:  []string{"--http-addr=127.0.0.1:7004"},
			wantW: 3, wantResync: 4 * time.Minute, wantAddr: "127.0.0.1:7004"},
		{name: "flag defaults do not override the file", file: file, env: baseEnv(), args: []string{"--log-level=debug"},
			wantW: 3, wantResync: time.Minute, wantAddr: "127.0.0.1:7001"},
		{name: "DEVARCH_CONFIG names the file", env: baseEnv("DEVARCH_CONFIG", file),
			wantW: 3, wantResync: time.Minute, wantAddr: "127.0.0.1:7001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(Options{File: tt.file, Flags: flags(t, tt.args...), LookupEnv: env(tt.env)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Workers != tt.wantW || cfg.ResyncInterval != tt.wantResync || cfg.HTTPAddr != tt.wantAddr {
				t.Errorf("got workers=%d resync=%s addr=%s; want %d %s %s",
					cfg.Workers, cfg.ResyncInterval, cfg.HTTPAddr, tt.wantW, tt.wantResync, tt.wantAddr)
			}
		})
	}
}

func TestLoadOptionsFileBeatsEnvConfig(t *testing.T) {
	a := writeFile(t, "a.yml", "workers: 11\n")
	b := writeFile(t, "b.yml", "workers: 12\n")
	cfg, err := Load(Options{File: a, LookupEnv: env(baseEnv("DEVARCH_CONFIG", b))})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 11 {
		t.Errorf("workers = %d; want 11 from Options.File", cfg.Workers)
	}
}

func TestLoadFullFixture(t *testing.T) {
	cfg, err := Load(Options{File: "testdata/full.yml", LookupEnv: env(baseEnv())})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL:     "postgres://devarch:hunter2-file@127.0.0.1:5432/devarch?sslmode=disable",
		DockerHost:      "tcp://127.0.0.1:2375",
		StateDir:        "/var/lib/devarch-controller",
		HTTPAddr:        "127.0.0.1:9090",
		APIToken:        "file-token-0123456789",
		ResyncInterval:  45 * time.Second,
		Workers:         4,
		ApprovalTTL:     time.Hour,
		ShutdownTimeout: 10 * time.Second,
		SecretsFile:     "/etc/devarch/secrets.env",
		LogLevel:        "debug",
		LogFormat:       "json",

		NetworkSubnetPool:   "10.128.0.0/9",
		NetworkSubnetPrefix: 26,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load(full.yml):\n got %#v\nwant %#v", cfg.values(), want.values())
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("full.yml should be valid: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantStateDir string
		wantDocker   string
	}{
		{"home", map[string]string{"HOME": "/home/a"}, "/home/a/.local/state/devarch-controller", DefaultDockerHost},
		{"xdg wins over home", map[string]string{"HOME": "/home/a", "XDG_STATE_HOME": "/xdg"}, "/xdg/devarch-controller", DefaultDockerHost},
		{"relative xdg ignored", map[string]string{"HOME": "/home/a", "XDG_STATE_HOME": "rel"}, "/home/a/.local/state/devarch-controller", DefaultDockerHost},
		{"nothing set", map[string]string{}, "", DefaultDockerHost},
		{"DOCKER_HOST", map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2376"}, "", "tcp://127.0.0.1:2376"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Defaults(env(tt.env))
			if d.StateDir != tt.wantStateDir || d.DockerHost != tt.wantDocker {
				t.Errorf("state_dir=%q docker_host=%q; want %q %q", d.StateDir, d.DockerHost, tt.wantStateDir, tt.wantDocker)
			}
		})
	}
	if d := Defaults(env(map[string]string{"HOME": "/h"})); d.DatabaseURL != DefaultDatabaseURL || d.Workers != 2 ||
		d.ResyncInterval != 30*time.Second || d.ApprovalTTL != 15*time.Minute || d.ShutdownTimeout != 30*time.Second ||
		d.LogLevel != "info" || d.LogFormat != "auto" || d.HTTPAddr != "127.0.0.1:8080" || d.APIToken != "" {
		t.Errorf("unexpected defaults: %v", d)
	}
}

func TestLoadPaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fixtureDir := filepath.Join(wd, "testdata")
	tests := []struct {
		name        string
		env         map[string]string
		args        []string
		wantState   string
		wantSecrets string
	}{
		{name: "relative to the config file",
			env:       baseEnv(),
			wantState: filepath.Join(fixtureDir, "state"), wantSecrets: filepath.Join(fixtureDir, "secrets.env")},
		{name: "env relative to working directory",
			env:       baseEnv("DEVARCH_STATE_DIR", "envstate"),
			wantState: filepath.Join(wd, "envstate"), wantSecrets: filepath.Join(fixtureDir, "secrets.env")},
		{name: "flag relative to working directory, tilde expanded",
			env:       baseEnv(),
			args:      []string{"--state-dir=flagstate", "--secrets-file=~/s.env"},
			wantState: filepath.Join(wd, "flagstate"), wantSecrets: "/home/tester/s.env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(Options{File: "testdata/relative_paths.yml", Flags: flags(t, tt.args...), LookupEnv: env(tt.env)})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StateDir != tt.wantState || cfg.SecretsFile != tt.wantSecrets {
				t.Errorf("state_dir=%q secrets_file=%q; want %q %q", cfg.StateDir, cfg.SecretsFile, tt.wantState, tt.wantSecrets)
			}
			if cfg.APITokenFile != filepath.Join(fixtureDir, "token.txt") || cfg.APIToken != "token-from-file-abcdef" {
				t.Errorf("api_token_file=%q token read=%v; want the fixture's token, trimmed", cfg.APITokenFile, cfg.APIToken == "token-from-file-abcdef")
			}
		})
	}
}

func TestLoadTildeWithoutHome(t *testing.T) {
	_, err := Load(Options{LookupEnv: env(map[string]string{"DEVARCH_STATE_DIR": "~/state"})})
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "HOME is not set") {
		t.Fatalf("err = %v; want a ValidationError about HOME", err)
	}
}

func TestLoadAPITokenFile(t *testing.T) {
	empty := writeFile(t, "empty", " \n")
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"missing file", baseEnv("DEVARCH_API_TOKEN_FILE", "/nonexistent/token"), `api_token_file "/nonexistent/token" does not exist`},
		{"empty file", baseEnv("DEVARCH_API_TOKEN_FILE", empty), "is empty; write the token into it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{LookupEnv: env(tt.env)})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(Options{File: "testdata/does-not-exist.yml", LookupEnv: env(baseEnv())})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "read config file") {
		t.Fatalf("err = %v; want a wrapped not-exist error", err)
	}
}

func TestLoadEnvProblems(t *testing.T) {
	_, err := Load(Options{LookupEnv: env(baseEnv(
		"DEVARCH_WORKERS", "two",
		"DEVARCH_APPROVAL_TTL", "15",
		"DEVARCH_SHUTDOWN_TIMEOUT", "later",
	))})
	wantProblems(t, err, []string{
		`Environment variable DEVARCH_WORKERS is not a whole number; got "two".`,
		`Environment variable DEVARCH_APPROVAL_TTL needs a unit, such as "30s" or "15m"; got "15".`,
		`Environment variable DEVARCH_SHUTDOWN_TIMEOUT is not a duration such as "30s" or "15m"; got "later".`,
	})
}

func TestLoadDoesNotReadProcessEnv(t *testing.T) {
	t.Setenv("DEVARCH_WORKERS", "42")
	cfg, err := Load(Options{LookupEnv: env(baseEnv())})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != DefaultWorkers {
		t.Errorf("workers = %d; Load read the process environment despite LookupEnv", cfg.Workers)
	}
}
