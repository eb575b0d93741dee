package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// OutputFormats returns the formats Print accepts.
func OutputFormats() []string { return []string{"yaml", "json"} }

// view is the printable, redacted form of Config. Its field order is the
// order of the fields table, so output reads like docs/configuration.md.
type view struct {
	DatabaseURL         string      `json:"database_url" yaml:"database_url"`
	DockerHost          string      `json:"docker_host" yaml:"docker_host"`
	StateDir            string      `json:"state_dir" yaml:"state_dir"`
	HTTPAddr            string      `json:"http_addr" yaml:"http_addr"`
	APIToken            string      `json:"api_token" yaml:"api_token"`
	APITokenFile        string      `json:"api_token_file" yaml:"api_token_file"`
	ResyncInterval      string      `json:"resync_interval" yaml:"resync_interval"`
	Workers             int         `json:"workers" yaml:"workers"`
	ApprovalTTL         string      `json:"approval_ttl" yaml:"approval_ttl"`
	ShutdownTimeout     string      `json:"shutdown_timeout" yaml:"shutdown_timeout"`
	SecretsFile         string      `json:"secrets_file" yaml:"secrets_file"`
	LogLevel            string      `json:"log_level" yaml:"log_level"`
	LogFormat           string      `json:"log_format" yaml:"log_format"`
	NetworkSubnetPool   string      `json:"network_subnet_pool" yaml:"network_subnet_pool"`
	NetworkSubnetPrefix int         `json:"network_subnet_prefix" yaml:"network_subnet_prefix"`
	Engines             engineViews `json:"engines,omitempty" yaml:"engines,omitempty"`
}

func (c Config) view() view {
	token := ""
	if c.APIToken != "" {
		token = Redacted
	}
	return view{
		DatabaseURL:         RedactDatabaseURL(c.DatabaseURL),
		DockerHost:          c.DockerHost,
		StateDir:            c.StateDir,
		HTTPAddr:            c.HTTPAddr,
		APIToken:            token,
		APITokenFile:        c.APITokenFile,
		ResyncInterval:      formatDuration(c.ResyncInterval),
		Workers:             c.Workers,
		ApprovalTTL:         formatDuration(c.ApprovalTTL),
		ShutdownTimeout:     formatDuration(c.ShutdownTimeout),
		SecretsFile:         c.SecretsFile,
		LogLevel:            c.LogLevel,
		LogFormat:           c.LogFormat,
		Engines:             engineViews(c.Engines),
		NetworkSubnetPool:   c.NetworkSubnetPool,
		NetworkSubnetPrefix: c.NetworkSubnetPrefix,
	}
}

// Print writes the effective configuration to w as "yaml" or "json", with
// secrets replaced by Redacted (an unset api_token prints empty). The YAML
// form is itself a valid config file once secrets are filled back in.
func (c Config) Print(w io.Writer, format string) error {
	switch format {
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(c.view()); err != nil {
			return fmt.Errorf("encode config as yaml: %w", err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("encode config as yaml: %w", err)
		}
		return nil
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.view()); err != nil {
			return fmt.Errorf("encode config as json: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("print config: unknown format %q (want one of %s)", format, strings.Join(OutputFormats(), ", "))
	}
}

// String renders c as compact JSON with secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.view()); err != nil {
		return "{}"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// GoString makes %#v redacted too.
func (c Config) GoString() string { return "config.Config" + c.String() }

// MarshalJSON encodes c redacted, as Print does.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }

// MarshalYAML encodes c redacted, as Print does.
func (c Config) MarshalYAML() (any, error) { return c.view(), nil }

// formatDuration prints d the way a user would write it: 15m rather than
// 15m0s. The result parses back with time.ParseDuration.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
