package serve

// Tests of contrib/prometheus: the alerting rules, their unit tests and
// the example config pass promtool, the exposition of a running serve
// passes `promtool check metrics`, and the rules only use metrics it
// exports. promtool comes from Debian's prometheus package; without it the
// tests skip, unless DEVARCH_TEST_REQUIRE=1.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/internal/testenv"
)

var prometheusDir = filepath.Join("..", "contrib", "prometheus")

// promtool returns the path of promtool or skips (fails under
// DEVARCH_TEST_REQUIRE=1) when it is not installed.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	testenv.Skip(t, "promtool not on PATH; install Debian's prometheus package (apt-get install -y prometheus; scripts/test.sh installs it)")
	return ""
}

// runPromtool runs promtool with args and stdin, failing the test with its
// output when it exits non-zero. It returns the combined output.
func runPromtool(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolRules(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the output
	}{
		{"check rules", []string{"check", "rules", filepath.Join(prometheusDir, "alerts.yml")}, "SUCCESS: 7 rules found"},
		{"test rules", []string{"test", "rules", filepath.Join(prometheusDir, "alerts_test.yml")}, "SUCCESS"},
		{"check config", []string{"check", "config", filepath.Join(prometheusDir, "prometheus.yml")}, "SUCCESS: 1 rule files found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out := runPromtool(t, nil, tc.args...); !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestPromtoolConfigWithToken checks that the commented-out authorization
// block of the example config is valid once enabled.
func TestPromtoolConfigWithToken(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(prometheusDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(prometheusDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	for name, data := range map[string][]byte{"alerts.yml": rules, "token": []byte("s3cr3t\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var b strings.Builder
	enabled := 0
	for line := range strings.Lines(string(cfg)) {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "# authorization:" || trimmed == "#   type: Bearer":
			line = strings.Replace(line, "# ", "", 1)
			enabled++
		case strings.HasPrefix(trimmed, "#   credentials_file:"):
			line = "      credentials_file: " + tokenFile + "\n"
			enabled++
		}
		b.WriteString(line)
	}
	if enabled != 3 {
		t.Fatalf("found %d of the 3 commented authorization lines in prometheus.yml", enabled)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, nil, "check", "config", path)
}

// checkPromtoolMetrics runs `promtool check metrics` on what reg exports.
func checkPromtoolMetrics(t *testing.T, reg prometheus.Gatherer) {
	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain)
	if err != nil {
		t.Fatal(err)
	}
	if out := runPromtool(t, text, "check", "metrics"); out != "" {
		t.Errorf("promtool check metrics reported problems:\n%s", out)
	}
}

// checkAlertsUseExportedMetrics keeps alerts.yml from drifting from the
// code: every metric an alert selects must be exported by reg, the
// registry /metrics serves.
func checkAlertsUseExportedMetrics(t *testing.T, reg prometheus.Gatherer) {
	known := queryableNames(t, reg)

	raw, err := os.ReadFile(filepath.Join(prometheusDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parse alerts.yml: %v", err)
	}
	if len(file.Groups) != 1 || file.Groups[0].Name != "devarch" {
		t.Fatalf("alerts.yml must hold one group named devarch, got %+v", file.Groups)
	}
	for _, r := range file.Groups[0].Rules {
		exportedNames(t, known, "alert "+r.Alert, r.Expr)
	}
}
