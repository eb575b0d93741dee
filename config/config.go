package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// Config is the controller's effective configuration. Load fills it; the
// zero value is not usable (call Defaults or Load).
//
// Config renders itself redacted: String, GoString, MarshalJSON and
// MarshalYAML all replace secrets with Redacted, so logging or encoding a
// Config cannot leak the API token or the database password.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (URL or keyword/value
	// form). Its password is secret.
	DatabaseURL string `mapstructure:"database_url"`
	// DockerHost is the Docker (or Podman) API endpoint, e.g.
	// unix:///var/run/docker.sock.
	DockerHost string `mapstructure:"docker_host"`
	// StateDir is where config files are materialized for containers. Load
	// makes it absolute.
	StateDir string `mapstructure:"state_dir"`
	// HTTPAddr is the host:port the HTTP API, dashboard and metrics listen
	// on.
	HTTPAddr string `mapstructure:"http_addr"`
	// APIToken is the bearer token the HTTP API requires; empty means no
	// authentication. Load fills it from APITokenFile when that is set.
	APIToken string `mapstructure:"api_token"`
	// APITokenFile names a file holding the API token (surrounding
	// whitespace is trimmed). Load makes it absolute.
	APITokenFile string `mapstructure:"api_token_file"`
	// ResyncInterval is how often every stack is re-planned even without a
	// trigger.
	ResyncInterval time.Duration `mapstructure:"resync_interval"`
	// Workers is the number of stacks reconciled concurrently.
	Workers int `mapstructure:"workers"`
	// ApprovalTTL is how long a pending approval stays valid.
	ApprovalTTL time.Duration `mapstructure:"approval_ttl"`
	// ShutdownTimeout bounds the graceful shutdown after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// SecretsFile optionally names the file that resolves ${SECRET:NAME}
	// references in stack imports. Load makes it absolute.
	SecretsFile string `mapstructure:"secrets_file"`
	// LogLevel is one of LogLevels.
	LogLevel string `mapstructure:"log_level"`
	// LogFormat is one of LogFormats.
	LogFormat string `mapstructure:"log_format"`
	// Engines are the named engines of the config file's engines section,
	// in file order (see EngineList); empty means one engine named
	// DefaultEngineName at DockerHost.
	Engines []Engine `mapstructure:"-"`
	// NetworkSubnetPool is network.subnet_pool: the IPv4 range the
	// controller cuts stacks' network subnets from; empty means the
	// engine picks subnets from its own pools (see docs/engines.md).
	NetworkSubnetPool string `mapstructure:"network_subnet_pool"`
	// NetworkSubnetPrefix is network.subnet_prefix: the prefix length of
	// each stack's subnet.
	NetworkSubnetPrefix int `mapstructure:"network_subnet_prefix"`

	// apiTokenFromFile records that Load read APIToken from APITokenFile,
	// so Validate can tell that apart from both keys being set.
	apiTokenFromFile bool
}

// Redacted replaces a secret wherever configuration is shown.
const Redacted = "<secret>"

// EnvPrefix starts the name of every environment variable that sets a key:
// DEVARCH_ + the key in upper case, e.g. DEVARCH_DATABASE_URL.
const EnvPrefix = "DEVARCH_"

// EnvConfigFile names the config file when no --config flag (Options.File)
// is given.
const EnvConfigFile = EnvPrefix + "CONFIG"

// FlagConfigFile is the name of the flag RegisterFlags adds for the config
// file path. Load does not read it: pass its value as Options.File.
const FlagConfigFile = "config"

// Defaults used when no source sets a key.
const (
	DefaultDatabaseURL     = "postgres://postgres@127.0.0.1:55432/devarch?sslmode=disable"
	DefaultDockerHost      = "unix:///var/run/docker.sock"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultResyncInterval  = 30 * time.Second
	DefaultWorkers         = 2
	DefaultApprovalTTL     = 15 * time.Minute
	DefaultShutdownTimeout = 30 * time.Second
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "auto"
)

// LogLevels returns the accepted values of log_level.
func LogLevels() []string { return []string{"debug", "info", "warn", "error"} }

// LogFormats returns the accepted values of log_format.
func LogFormats() []string { return []string{"auto", "console", "json"} }

// stateDirName is the directory under the XDG state home.
const stateDirName = "devarch-controller"

// Defaults returns the configuration used when nothing else is set. Two
// defaults depend on the environment: docker_host follows DOCKER_HOST, and
// state_dir is $XDG_STATE_HOME/devarch-controller, else
// $HOME/.local/state/devarch-controller, else empty (which Validate
// rejects). lookupEnv nil means os.LookupEnv.
func Defaults(lookupEnv func(string) (string, bool)) Config {
	env := envFunc(lookupEnv)
	c := Config{
		DatabaseURL:     DefaultDatabaseURL,
		DockerHost:      DefaultDockerHost,
		HTTPAddr:        DefaultHTTPAddr,
		ResyncInterval:  DefaultResyncInterval,
		Workers:         DefaultWorkers,
		ApprovalTTL:     DefaultApprovalTTL,
		ShutdownTimeout: DefaultShutdownTimeout,
		LogLevel:        DefaultLogLevel,
		LogFormat:       DefaultLogFormat,

		NetworkSubnetPrefix: spec.DefaultSubnetPrefix,
	}
	if host := env("DOCKER_HOST"); host != "" {
		c.DockerHost = host
	}
	// The XDG base directory spec says relative values are invalid and
	// must be ignored.
	if xdg := env("XDG_STATE_HOME"); filepath.IsAbs(xdg) {
		c.StateDir = filepath.Join(xdg, stateDirName)
	} else if home := env("HOME"); filepath.IsAbs(home) {
		c.StateDir = filepath.Join(home, ".local", "state", stateDirName)
	}
	return c
}

// envFunc adapts a LookupEnv-style function to one that returns "" for
// unset variables.
func envFunc(lookupEnv func(string) (string, bool)) func(string) string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return func(name string) string {
		v, _ := lookupEnv(name)
		return v
	}
}

// EnvVar returns the environment variable that sets key, e.g.
// EnvVar("workers") == "DEVARCH_WORKERS".
func EnvVar(key string) string { return EnvPrefix + strings.ToUpper(key) }

// FlagName returns the command-line flag that sets key, e.g.
// FlagName("http_addr") == "http-addr". api_token has no flag (a token on
// the command line is visible to every local user); FlagName still returns
// the name it would have.
func FlagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// Keys returns every configuration key in documentation order.
func Keys() []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}
