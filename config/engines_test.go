package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadEngines(t *testing.T, yml string) (Config, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "devarch.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "HOME" {
			return "/home/u", true
		}
		return "", false
	}
	cfg, err := Load(Options{File: file, LookupEnv: env})
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestEnginesSection(t *testing.T) {
	cfg, err := loadEngines(t, `
engines:
  local: {host: unix:///var/run/docker.sock}
  edge: {host: ssh://deploy@edge-1}
  ci:
    host: tcp://10.0.0.5:2376
    default: true
    tls: {ca: certs/ca.pem, cert: /etc/devarch/cert.pem, key: certs/key.pem}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.EngineNames(); !reflect.DeepEqual(got, []string{"local", "edge", "ci"}) {
		t.Errorf("EngineNames = %v; want file order", got)
	}
	if got := cfg.DefaultEngine(); got != "ci" {
		t.Errorf("DefaultEngine = %q; want the one marked default", got)
	}
	tls := cfg.Engines[2].TLS
	if tls == nil || !filepath.IsAbs(tls.CA) || !strings.HasSuffix(tls.CA, "/certs/ca.pem") || tls.Cert != "/etc/devarch/cert.pem" {
		t.Errorf("TLS = %+v; want paths made absolute relative to the file", tls)
	}
	// The printed configuration is a config file that loads back the same.
	var out bytes.Buffer
	if err := cfg.Print(&out, "yaml"); err != nil {
		t.Fatal(err)
	}
	back, err := loadEngines(t, out.String())
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(back.Engines, cfg.Engines) {
		t.Errorf("round trip:\n got %+v\nwant %+v\n%s", back.Engines, cfg.Engines, out.String())
	}
}

func TestEnginesDefaultRules(t *testing.T) {
	cfg, err := loadEngines(t, "docker_host: unix:///run/x.sock\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.EngineList(); len(got) != 1 || got[0].Name != DefaultEngineName || got[0].Host != "unix:///run/x.sock" {
		t.Errorf("without engines: %+v; want one engine %q at docker_host", got, DefaultEngineName)
	}
	cfg, err = loadEngines(t, "engines:\n  b: {host: unix:///b.sock}\n  a: {host: unix:///a.sock}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DefaultEngine(); got != "b" {
		t.Errorf("DefaultEngine without a mark = %q; want the first in the file", got)
	}
}

func TestEnginesBadInput(t *testing.T) {
	for name, tc := range map[string]struct{ yml, want string }{
		"two defaults":  {"engines:\n  a: {host: unix:///a.sock, default: true}\n  b: {host: unix:///b.sock, default: true}\n", "Engines a, b are all marked default: true; mark only one."},
		"bad host":      {"engines:\n  a: {host: 'localhost:2375'}\n", `engines.a.host "localhost:2375" is not a Docker endpoint`},
		"no host":       {"engines:\n  a: {default: true}\n", "engines.a.host is empty"},
		"unknown key":   {"engines:\n  a: {host: unix:///a.sock, hots: x}\n", `Unknown key "hots" in engine "a"`},
		"bad name":      {"engines:\n  Edge One: {host: unix:///a.sock}\n", `Engine name "Edge One"`},
		"partial tls":   {"engines:\n  a: {host: tcp://h:2376, tls: {ca: /ca.pem}}\n", "engines.a.tls needs ca, cert and key"},
		"not a mapping": {"engines: [a, b]\n", "engines in config file"},
		"empty":         {"engines: {}\n", "engines in config file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadEngines(t, tc.yml)
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if got := strings.Join(problemsOf(t, err), "\n"); !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}
