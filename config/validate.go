package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ValidationError lists every configuration problem found in one pass, each
// a full sentence saying what is wrong and, where it helps, what to do.
// Load returns it for bad sources, Validate for bad values.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the configuration has %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// minInterval is the smallest accepted value of the duration keys.
const minInterval = time.Second

// Validate checks every value and returns a *ValidationError listing all
// problems, or nil. It does no I/O (files named by secrets_file are read
// when used). Messages never contain a secret.
func (c Config) Validate() error {
	var problems []string
	add := func(p ...string) { problems = append(problems, p...) }

	add(validateDatabaseURL(c.DatabaseURL)...)
	add(validateDockerHost(c.DockerHost)...)
	add(validateEngines(c.Engines)...)
	add(validateStateDir(c.StateDir)...)
	add(validateHTTP(c)...)
	add(validateAtLeast("resync_interval", c.ResyncInterval, minInterval)...)
	if c.Workers < 1 {
		add(fmt.Sprintf("workers must be at least 1; got %d.", c.Workers))
	}
	add(validateAtLeast("approval_ttl", c.ApprovalTTL, minInterval)...)
	add(validateAtLeast("shutdown_timeout", c.ShutdownTimeout, minInterval)...)
	add(validateOneOf("log_level", c.LogLevel, LogLevels())...)
	add(validateOneOf("log_format", c.LogFormat, LogFormats())...)
	add(validateNetwork(c)...)

	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: problems}
}

func validateDatabaseURL(s string) []string {
	if strings.TrimSpace(s) == "" {
		return []string{"database_url is empty; set it to a PostgreSQL URL such as postgres://USER:PASSWORD@127.0.0.1:5432/devarch."}
	}
	if strings.Contains(s, Redacted) {
		return []string{"database_url contains the placeholder " + Redacted + " printed by \"config print\"; put the real password back."}
	}
	if !strings.Contains(s, "://") {
		// libpq keyword/value form: "host=... dbname=...".
		if strings.Contains(s, "=") {
			return nil
		}
		return []string{"database_url is neither a postgres:// URL nor a \"host=... dbname=...\" keyword string."}
	}
	u, err := url.Parse(s)
	if err != nil {
		// err quotes the URL, password included: do not show it.
		return []string{"database_url is not a valid URL; check its syntax and escape special characters in the password as %XX."}
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return []string{fmt.Sprintf("database_url must start with postgres:// or postgresql://; got %q.", u.Scheme+"://")}
	}
	return nil
}

// dockerSchemes are the endpoint schemes the Docker client understands.
var dockerSchemes = []string{"unix", "tcp", "http", "https", "ssh", "npipe"}

func validateDockerHost(s string) []string {
	if s == "" {
		return []string{"docker_host is empty; set it to unix:///var/run/docker.sock or tcp://HOST:PORT."}
	}
	bad := []string{fmt.Sprintf("docker_host %q is not a Docker endpoint; use unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST or npipe:////./pipe/NAME.", s)}
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(dockerSchemes, u.Scheme) {
		return bad
	}
	if u.Scheme == "unix" || u.Scheme == "npipe" {
		if u.Path == "" {
			return bad
		}
	} else if u.Host == "" {
		return bad
	}
	return nil
}

func validateStateDir(s string) []string {
	if s == "" {
		return []string{"state_dir is empty and no default applies (neither XDG_STATE_HOME nor HOME is set); set state_dir to an absolute path."}
	}
	if !filepath.IsAbs(s) {
		return []string{fmt.Sprintf("state_dir %q must be an absolute path.", s)}
	}
	return nil
}

// validateHTTP checks http_addr and the API token settings that depend on
// it.
func validateHTTP(c Config) []string {
	var problems []string
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	addrOK := err == nil
	if !addrOK {
		problems = append(problems, fmt.Sprintf("http_addr %q is not host:port; use e.g. 127.0.0.1:8080.", c.HTTPAddr))
	} else if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
		addrOK = false
		problems = append(problems, fmt.Sprintf("http_addr %q has an invalid port; use a number from 0 to 65535.", c.HTTPAddr))
	}

	if c.APIToken != "" && c.APITokenFile != "" && !c.apiTokenFromFile {
		problems = append(problems, "api_token and api_token_file are both set; set only one of them.")
	}
	if c.APIToken == Redacted {
		problems = append(problems, "api_token is the placeholder "+Redacted+" printed by \"config print\"; set the real token.")
	}
	if addrOK && c.APIToken == "" && !isLoopbackHost(host) {
		problems = append(problems, fmt.Sprintf("http_addr %q listens beyond loopback, so an API token is required; set api_token_file (or DEVARCH_API_TOKEN), or listen on 127.0.0.1.", c.HTTPAddr))
	}
	return problems
}

// isLoopbackHost reports whether host (from host:port) accepts connections
// only from this machine. An empty host means every interface.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validateAtLeast(key string, d, least time.Duration) []string {
	if d < least {
		return []string{fmt.Sprintf("%s must be at least %s; got %s.", key, formatDuration(least), formatDuration(d))}
	}
	return nil
}

func validateOneOf(key, value string, allowed []string) []string {
	if slices.Contains(allowed, value) {
		return nil
	}
	return []string{fmt.Sprintf("%s %q is not one of %s.", key, value, strings.Join(allowed, ", "))}
}
