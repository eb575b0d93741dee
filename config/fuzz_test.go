package config

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file. Load must never
// panic; it either fails with a non-empty message or yields a config that
// validates without panicking, prints in both formats, and (when it holds
// no secrets) loads back from its own YAML unchanged.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("workers: &a 1\nresync_interval: *a\n"))
	f.Add([]byte("{workers: 3, log_level: debug}"))
	f.Add([]byte("? [a]\n: b\n"))
	f.Add([]byte("workers: !!binary aGk=\n"))
	f.Add([]byte("network:\n  subnet_pool: 10.128.0.0/9\n  subnet_prefix: 24\nnetwork_subnet_prefix: 25\n"))
	f.Add([]byte("network: {subnet_pool: &p 10.0.0.0/8, bogus: *p}\n"))
	f.Add([]byte("state_dir: '~/x'\nhttp_addr: \"[::1]:0\"\n"))
	dir := f.TempDir()
	env := env(baseEnv())

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := os.CreateTemp(dir, "*.yml")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(file.Name())
		if _, err := file.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}

		cfg, err := Load(Options{File: file.Name(), LookupEnv: env})
		if err != nil {
			var verr *ValidationError
			if errors.As(err, &verr) {
				for _, p := range verr.Problems {
					if strings.TrimSpace(p) == "" {
						t.Fatalf("empty problem in %q", err)
					}
				}
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		_ = cfg.Validate()
		var yml, js bytes.Buffer
		if err := cfg.Print(&yml, "yaml"); err != nil {
			t.Fatalf("Print yaml: %v", err)
		}
		if err := cfg.Print(&js, "json"); err != nil {
			t.Fatalf("Print json: %v", err)
		}
		if cfg.APIToken != "" || RedactDatabaseURL(cfg.DatabaseURL) != cfg.DatabaseURL {
			return
		}
		if err := os.WriteFile(file.Name(), yml.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := Load(Options{File: file.Name(), LookupEnv: env})
		if err != nil {
			t.Fatalf("reload printed config: %v\n%s", err, yml.String())
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip changed the config:\n got %v\nwant %v", back, cfg)
		}
	})
}

// FuzzRedactDatabaseURL checks that RedactDatabaseURL never panics and that
// its output does not depend on the password.
func FuzzRedactDatabaseURL(f *testing.F) {
	f.Add("postgres://u:pw@h/db", "pw")
	f.Add("host=h password=pw", "p@ss/w:rd?#")
	f.Add("postgres://u@h/db?password=x", "")
	f.Add("%zz", "\x00")
	f.Fuzz(func(t *testing.T, raw, password string) {
		_ = RedactDatabaseURL(raw)
		if password == "" {
			return
		}
		build := func(pw string) string {
			u := url.URL{
				Scheme:   "postgres",
				User:     url.UserPassword("devarch", pw),
				Host:     "127.0.0.1:5432",
				Path:     "/devarch",
				RawQuery: "sslmode=disable&password=" + url.QueryEscape(pw),
			}
			return u.String()
		}
		if a, b := RedactDatabaseURL(build(password)), RedactDatabaseURL(build("x")); a != b {
			t.Fatalf("redaction depends on the password: %q vs %q", a, b)
		}
		if strings.ContainsAny(password, " '\\\t\n\r\f") {
			return
		}
		dsn := func(pw string) string { return "host=127.0.0.1 password=" + pw + " dbname=devarch" }
		if a, b := RedactDatabaseURL(dsn(password)), RedactDatabaseURL(dsn("x")); a != b {
			t.Fatalf("keyword redaction depends on the password: %q vs %q", a, b)
		}
	})
}
