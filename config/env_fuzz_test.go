package config

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzLoadEnv sets every DEVARCH_* variable from fuzzed text, with a
// database URL and an API token that hold a marked secret. Load and
// Validate never panic, and neither their errors nor the printed
// configuration ever show the secret.
func FuzzLoadEnv(f *testing.F) {
	f.Add([]byte("pw"), "postgres", "127.0.0.1:5432/devarch", "127.0.0.1:8080", "3", "30s", "/state")
	f.Add([]byte{0, 0xff}, "postgresql", "h/db?sslmode=disable&password=x", "0.0.0.0:80", "x", "5", "~/s")
	f.Add([]byte("a"), "mysql", "%zz", "[::1]:0", "", "1h", "rel")
	f.Add([]byte("p@ss"), "postgres", "", "nope", "-1", "0s", "")
	f.Fuzz(func(t *testing.T, raw []byte, scheme, rest, addr, workers, interval, path string) {
		secret := "Zq9-" + hex.EncodeToString(raw)
		for _, s := range []string{scheme, rest, addr, workers, interval, path} {
			if strings.Contains(s, secret) {
				return // the fuzzer put the secret into a value that is shown
			}
		}
		vars := map[string]string{
			"HOME":                     "/home/tester",
			"DEVARCH_DATABASE_URL":     scheme + "://app:" + secret + "@" + rest,
			"DEVARCH_API_TOKEN":        secret,
			"DEVARCH_HTTP_ADDR":        addr,
			"DEVARCH_WORKERS":          workers,
			"DEVARCH_RESYNC_INTERVAL":  interval,
			"DEVARCH_APPROVAL_TTL":     interval,
			"DEVARCH_SHUTDOWN_TIMEOUT": interval,
			"DEVARCH_STATE_DIR":        path,
			"DEVARCH_SECRETS_FILE":     path,
			"DEVARCH_LOG_LEVEL":        workers,
			"DEVARCH_LOG_FORMAT":       addr,
			"DEVARCH_DOCKER_HOST":      rest,
		}
		var shown strings.Builder
		cfg, err := Load(Options{LookupEnv: env(vars)})
		if err != nil {
			shown.WriteString(err.Error())
		} else {
			if err := cfg.Validate(); err != nil {
				shown.WriteString(err.Error())
			}
			shown.WriteString(cfg.String())
			var out bytes.Buffer
			for _, format := range []string{"yaml", "json"} {
				if err := cfg.Print(&out, format); err != nil {
					t.Fatalf("Print %s: %v", format, err)
				}
			}
			shown.Write(out.Bytes())
		}
		if strings.Contains(shown.String(), secret) {
			t.Fatalf("the secret is shown:\n%s", shown.String())
		}
	})
}
