package config

import (
	"strings"
	"testing"
	"time"
)

// valid returns a Config that passes Validate.
func valid() Config {
	c := Defaults(env(baseEnv()))
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // every problem, in order; nil means valid
	}{
		{name: "defaults are valid", mutate: func(*Config) {}},
		{name: "keyword DSN", mutate: func(c *Config) { c.DatabaseURL = "host=127.0.0.1 dbname=devarch password=x" }},
		{name: "postgresql scheme", mutate: func(c *Config) { c.DatabaseURL = "postgresql://u:p@127.0.0.1/db" }},
		{name: "docker ssh", mutate: func(c *Config) { c.DockerHost = "ssh://me@127.0.0.1" }},
		{name: "docker npipe", mutate: func(c *Config) { c.DockerHost = "npipe:////./pipe/docker_engine" }},
		{name: "all interfaces with token", mutate: func(c *Config) { c.HTTPAddr = ":8080"; c.APIToken = "t0ken" }},
		{name: "localhost and port 0", mutate: func(c *Config) { c.HTTPAddr = "localhost:0" }},
		{name: "ipv6 loopback", mutate: func(c *Config) { c.HTTPAddr = "[::1]:8080" }},
		{name: "token read from its file", mutate: func(c *Config) {
			c.APITokenFile, c.APIToken, c.apiTokenFromFile = "/run/token", "t", true
		}},

		{name: "empty database_url", mutate: func(c *Config) { c.DatabaseURL = " " },
			want: []string{"database_url is empty; set it to a PostgreSQL URL such as postgres://USER:PASSWORD@127.0.0.1:5432/devarch."}},
		{name: "wrong scheme", mutate: func(c *Config) { c.DatabaseURL = "mysql://root:pw@127.0.0.1/db" },
			want: []string{`database_url must start with postgres:// or postgresql://; got "mysql://".`}},
		{name: "unparsable URL", mutate: func(c *Config) { c.DatabaseURL = "postgres://u:p%zz@127.0.0.1/db" },
			want: []string{"database_url is not a valid URL; check its syntax and escape special characters in the password as %XX."}},
		{name: "neither URL nor DSN", mutate: func(c *Config) { c.DatabaseURL = "devarch" },
			want: []string{`database_url is neither a postgres:// URL nor a "host=... dbname=..." keyword string.`}},
		{name: "redaction placeholder in URL", mutate: func(c *Config) { c.DatabaseURL = "postgres://u:<secret>@h/db" },
			want: []string{`database_url contains the placeholder <secret> printed by "config print"; put the real password back.`}},
		{name: "empty docker_host", mutate: func(c *Config) { c.DockerHost = "" },
			want: []string{"docker_host is empty; set it to unix:///var/run/docker.sock or tcp://HOST:PORT."}},
		{name: "docker_host without scheme", mutate: func(c *Config) { c.DockerHost = "/var/run/docker.sock" },
			want: []string{`docker_host "/var/run/docker.sock" is not a Docker endpoint; use unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST or npipe:////./pipe/NAME.`}},
		{name: "tcp without host", mutate: func(c *Config) { c.DockerHost = "tcp://" },
			want: []string{`docker_host "tcp://" is not a Docker endpoint; use unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST or npipe:////./pipe/NAME.`}},
		{name: "empty state_dir", mutate: func(c *Config) { c.StateDir = "" },
			want: []string{"state_dir is empty and no default applies (neither XDG_STATE_HOME nor HOME is set); set state_dir to an absolute path."}},
		{name: "relative state_dir", mutate: func(c *Config) { c.StateDir = "state" },
			want: []string{`state_dir "state" must be an absolute path.`}},
		{name: "http_addr not host:port", mutate: func(c *Config) { c.HTTPAddr = "foo" },
			want: []string{`http_addr "foo" is not host:port; use e.g. 127.0.0.1:8080.`}},
		{name: "http_addr bad port", mutate: func(c *Config) { c.HTTPAddr = "127.0.0.1:99999" },
			want: []string{`http_addr "127.0.0.1:99999" has an invalid port; use a number from 0 to 65535.`}},
		{name: "non-loopback without token", mutate: func(c *Config) { c.HTTPAddr = "0.0.0.0:8080" },
			want: []string{`http_addr "0.0.0.0:8080" listens beyond loopback, so an API token is required; set api_token_file (or DEVARCH_API_TOKEN), or listen on 127.0.0.1.`}},
		{name: "hostname counts as non-loopback", mutate: func(c *Config) { c.HTTPAddr = "example.internal:8080" },
			want: []string{`http_addr "example.internal:8080" listens beyond loopback, so an API token is required; set api_token_file (or DEVARCH_API_TOKEN), or listen on 127.0.0.1.`}},
		{name: "token and token file", mutate: func(c *Config) { c.APIToken, c.APITokenFile = "t", "/run/token" },
			want: []string{"api_token and api_token_file are both set; set only one of them."}},
		{name: "token placeholder", mutate: func(c *Config) { c.APIToken = Redacted },
			want: []string{`api_token is the placeholder <secret> printed by "config print"; set the real token.`}},
		{name: "resync_interval zero", mutate: func(c *Config) { c.ResyncInterval = 0 },
			want: []string{"resync_interval must be at least 1s; got 0s."}},
		{name: "workers zero", mutate: func(c *Config) { c.Workers = 0 },
			want: []string{"workers must be at least 1; got 0."}},
		{name: "approval_ttl negative", mutate: func(c *Config) { c.ApprovalTTL = -time.Minute },
			want: []string{"approval_ttl must be at least 1s; got -1m."}},
		{name: "shutdown_timeout too small", mutate: func(c *Config) { c.ShutdownTimeout = 500 * time.Millisecond },
			want: []string{"shutdown_timeout must be at least 1s; got 500ms."}},
		{name: "log_level", mutate: func(c *Config) { c.LogLevel = "verbose" },
			want: []string{`log_level "verbose" is not one of debug, info, warn, error.`}},
		{name: "log_format", mutate: func(c *Config) { c.LogFormat = "xml" },
			want: []string{`log_format "xml" is not one of auto, console, json.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			wantProblems(t, err, tt.want)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg, err := Load(Options{File: "testdata/invalid_values.yml", LookupEnv: env(baseEnv())})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	err = cfg.Validate()
	problems := problemsOf(t, err)
	// database_url, docker_host, http_addr, resync_interval, workers,
	// approval_ttl, shutdown_timeout, log_level, log_format.
	if len(problems) != 9 {
		t.Errorf("got %d problems; want 9:\n%s", len(problems), err)
	}
	for _, p := range problems {
		if !strings.HasSuffix(p, ".") {
			t.Errorf("problem %q is not a full sentence", p)
		}
	}
}

func TestValidateNeverShowsSecrets(t *testing.T) {
	const pw = "hunter2-Sup3rSecret"
	for _, u := range []string{
		"postgres://u:" + pw + "@127.0.0.1/db%zz",
		"mysql://u:" + pw + "@127.0.0.1/db",
		"postgres://u:" + pw + "@[::1/db",
		"password=" + pw,
		pw,
	} {
		c := valid()
		c.DatabaseURL = u
		c.APIToken = pw
		c.HTTPAddr = "bad"
		if err := c.Validate(); err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("Validate error for %q leaks the secret: %v", u, err)
		}
	}
}
