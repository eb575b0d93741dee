package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// kind is the Go type a key decodes to.
type kind int

const (
	kindString kind = iota
	kindInt
	kindDuration
)

// field describes one configuration key. The table below is the single list
// of keys: file parsing, environment lookup, flags and the docs test all
// follow it.
type field struct {
	key    string
	kind   kind
	secret bool // the value (or part of it) is never shown
	path   bool // a filesystem path: ~ is expanded and the result made absolute
	noFlag bool // no command-line flag (secrets must not appear in ps output)
	usage  string
}

var fields = []field{
	{key: "database_url", secret: true, usage: "PostgreSQL connection URL of the desired-state database"},
	{key: "docker_host", usage: "Docker API endpoint (unix://, tcp://, ssh:// or npipe://)"},
	{key: "state_dir", path: true, usage: "directory where config files are materialized for containers"},
	{key: "http_addr", usage: "host:port the HTTP API, dashboard and metrics listen on"},
	{key: "api_token", secret: true, noFlag: true, usage: "bearer token the HTTP API requires"},
	{key: "api_token_file", path: true, usage: "file holding the bearer token the HTTP API requires"},
	{key: "resync_interval", kind: kindDuration, usage: "how often every stack is re-planned without a trigger"},
	{key: "workers", kind: kindInt, usage: "number of stacks reconciled concurrently"},
	{key: "approval_ttl", kind: kindDuration, usage: "how long a pending approval stays valid"},
	{key: "shutdown_timeout", kind: kindDuration, usage: "how long a graceful shutdown may take"},
	{key: "secrets_file", path: true, usage: "file resolving ${SECRET:NAME} references in stack imports"},
	{key: "log_level", usage: "log level: debug, info, warn or error"},
	{key: "log_format", usage: "log format: auto (console on a terminal, else json), console or json"},
	{key: "network_subnet_pool", usage: "IPv4 range (CIDR) stacks' network subnets are allocated from; empty: the engine's pools"},
	{key: "network_subnet_prefix", kind: kindInt, usage: "prefix length of each stack's subnet from network_subnet_pool"},
}

// lookupField returns the field for key.
func lookupField(key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// parse converts raw text from the file or the environment into the key's
// Go type. On failure it returns a phrase completing "<key> ..." such as
// "is not a whole number".
func (f field) parse(raw string) (any, string) {
	switch f.kind {
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return nil, "is not a whole number"
		}
		return n, ""
	case kindDuration:
		s := strings.TrimSpace(raw)
		d, err := time.ParseDuration(s)
		if err == nil {
			return d, ""
		}
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return nil, `needs a unit, such as "30s" or "15m"`
		}
		return nil, `is not a duration such as "30s" or "15m"`
	default:
		return raw, ""
	}
}

// describe renders a parse problem as a full sentence. where names the
// source ("workers in config file \"x\" (line 3)", "DEVARCH_WORKERS"); the
// raw value is quoted unless the key is secret.
func (f field) describe(where, complaint, raw string) string {
	if f.secret {
		return fmt.Sprintf("%s %s.", where, complaint)
	}
	return fmt.Sprintf("%s %s; got %q.", where, complaint, raw)
}

// values returns c's keys and values as a map, for viper's defaults.
func (c Config) values() map[string]any {
	out := make(map[string]any, len(fields))
	rv := reflect.ValueOf(c)
	rt := rv.Type()
	for i := range rt.NumField() {
		if key := rt.Field(i).Tag.Get("mapstructure"); key != "" && key != "-" {
			out[key] = rv.Field(i).Interface()
		}
	}
	return out
}

// pathField returns a pointer to the string field of a path key.
func (c *Config) pathField(key string) *string {
	switch key {
	case "state_dir":
		return &c.StateDir
	case "api_token_file":
		return &c.APITokenFile
	case "secrets_file":
		return &c.SecretsFile
	}
	return nil
}
