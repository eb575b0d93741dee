package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	testPassword = "hunter2-Sup3rSecret"
	testToken    = "tok-9f8e7d6c5b4a"
)

func secretConfig() Config {
	c := valid()
	c.DatabaseURL = "postgres://devarch:" + testPassword + "@127.0.0.1:5432/devarch?sslmode=disable&password=" + testPassword
	c.APIToken = testToken
	return c
}

func TestPrintRedactsSecrets(t *testing.T) {
	c := secretConfig()
	renderings := map[string]func() (string, error){
		"yaml":                 func() (string, error) { var b bytes.Buffer; err := c.Print(&b, "yaml"); return b.String(), err },
		"json":                 func() (string, error) { var b bytes.Buffer; err := c.Print(&b, "json"); return b.String(), err },
		"%v":                   func() (string, error) { return fmt.Sprintf("%v", c), nil },
		"%+v":                  func() (string, error) { return fmt.Sprintf("%+v", c), nil },
		"%#v":                  func() (string, error) { return fmt.Sprintf("%#v", c), nil },
		"%s":                   func() (string, error) { return fmt.Sprintf("%s", c), nil },
		"json.Marshal":         func() (string, error) { b, err := json.Marshal(c); return string(b), err },
		"json.Marshal pointer": func() (string, error) { b, err := json.Marshal(&c); return string(b), err },
		"yaml.Marshal":         func() (string, error) { b, err := yaml.Marshal(c); return string(b), err },
	}
	for name, render := range renderings {
		t.Run(name, func(t *testing.T) {
			out, err := render()
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{testPassword, testToken} {
				if strings.Contains(out, secret) {
					t.Errorf("output leaks %q:\n%s", secret, out)
				}
			}
			if !strings.Contains(out, Redacted) && !strings.Contains(out, `\u003csecret\u003e`) {
				t.Errorf("output has no %s marker:\n%s", Redacted, out)
			}
		})
	}
}

func TestPrintYAML(t *testing.T) {
	c := secretConfig()
	c.StateDir = "/state"
	var b bytes.Buffer
	if err := c.Print(&b, "yaml"); err != nil {
		t.Fatal(err)
	}
	want := `database_url: postgres://devarch:<secret>@127.0.0.1:5432/devarch?sslmode=disable&password=<secret>
docker_host: unix:///var/run/docker.sock
state_dir: /state
http_addr: 127.0.0.1:8080
api_token: <secret>
api_token_file: ""
resync_interval: 30s
workers: 2
approval_ttl: 15m
shutdown_timeout: 30s
secrets_file: ""
log_level: info
log_format: auto
network_subnet_pool: ""
network_subnet_prefix: 24
`
	if b.String() != want {
		t.Errorf("Print yaml:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPrintJSONKeysFollowKeys(t *testing.T) {
	var b bytes.Buffer
	if err := valid().Print(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(m) != len(Keys()) {
		t.Errorf("printed %d keys; want %d", len(m), len(Keys()))
	}
	last := -1
	for _, k := range Keys() {
		i := strings.Index(b.String(), `"`+k+`":`)
		if i < 0 || i < last {
			t.Errorf("key %s missing or out of order in\n%s", k, b.String())
		}
		last = i
	}
	if m["api_token"] != "" {
		t.Errorf("unset api_token printed as %v; want empty", m["api_token"])
	}
}

func TestPrintUnknownFormat(t *testing.T) {
	if err := valid().Print(&bytes.Buffer{}, "toml"); err == nil {
		t.Fatal("Print(toml) succeeded; want an error")
	}
}

// TestPrintRoundTrip: the YAML Print writes loads back to the same config.
func TestPrintRoundTrip(t *testing.T) {
	c := valid()
	c.Workers, c.ApprovalTTL, c.ResyncInterval = 5, 90*time.Minute, 1500*time.Millisecond
	c.SecretsFile, c.LogFormat = "/etc/s.env", "json"
	var b bytes.Buffer
	if err := c.Print(&b, "yaml"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "printed.yml")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(Options{File: p, LookupEnv: env(baseEnv())})
	if err != nil {
		t.Fatalf("Load(printed): %v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %v\nwant %v", got, c)
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{DefaultDatabaseURL, DefaultDatabaseURL},
		{"postgres://u:pw@h:5432/db", "postgres://u:<secret>@h:5432/db"},
		{"postgres://u:p%40ss@h/db?sslmode=disable", "postgres://u:<secret>@h/db?sslmode=disable"},
		{"postgres://u@h/db?password=pw&application_name=x", "postgres://u@h/db?password=<secret>&application_name=x"},
		{"postgres://h/db?sslpassword=pw&sslkey=/k.pem", "postgres://h/db?sslpassword=<secret>&sslkey=/k.pem"},
		{"postgres://u:pw@h/db#frag", "postgres://u:<secret>@h/db"},
		{"postgres://u:p/w@h/db", Redacted},   // unescaped / makes the password look like a port
		{"postgres://u:12/x@h/db", Redacted},  // parses, but with no user: the @ gives it away
		{"postgres://u:pw@h/db%zz", Redacted}, // does not parse
		{"host=h password=pw dbname=d", "host=h password=<secret> dbname=d"},
		{"host=h password = 'p w\\'x' dbname=d", "host=h password = <secret> dbname=d"},
		{"host=h PASSWORD=pw sslpassword=pw2", "host=h PASSWORD=<secret> sslpassword=<secret>"},
	}
	for _, tt := range tests {
		if got := RedactDatabaseURL(tt.in); got != tt.want {
			t.Errorf("RedactDatabaseURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0: "0s", 30 * time.Second: "30s", 15 * time.Minute: "15m", time.Hour: "1h",
		90 * time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s",
	}
	for d, want := range tests {
		got := formatDuration(d)
		if got != want {
			t.Errorf("formatDuration(%s) = %q; want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", got, back, err, d)
		}
	}
}

// TestFieldsMatchStruct keeps the fields table, Config's tags and the
// printed view in step.
func TestFieldsMatchStruct(t *testing.T) {
	vals := valid().values()
	if len(vals) != len(fields) {
		t.Errorf("Config has %d tagged fields; the table has %d", len(vals), len(fields))
	}
	for _, f := range fields {
		v, ok := vals[f.key]
		if !ok {
			t.Errorf("key %s has no Config field", f.key)
			continue
		}
		wantKind := map[kind]string{kindString: "string", kindInt: "int", kindDuration: "time.Duration"}[f.kind]
		if got := fmt.Sprintf("%T", v); got != wantKind {
			t.Errorf("key %s: Config field is %s; table says %s", f.key, got, wantKind)
		}
		if f.path != (new(Config).pathField(f.key) != nil) {
			t.Errorf("key %s: path flag and pathField disagree", f.key)
		}
	}
}
