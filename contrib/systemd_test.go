package contrib

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

var unitPath = filepath.Join("systemd", "devarch-controller.service")

// unitSettings parses a systemd unit into section.Key -> values, in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is not Key=Value", path, line)
			}
			key := section + "." + k
			settings[key] = append(settings[key], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return settings
}

func TestSystemdUnitSettings(t *testing.T) {
	s := unitSettings(t, unitPath)
	tests := []struct {
		key  string
		want string // one of the key's values
	}{
		{"Unit.After", "network-online.target docker.service postgresql.service"},
		{"Unit.Wants", "network-online.target"},
		{"Service.ExecStart", "/usr/local/bin/devarch-controller serve --config /etc/devarch-controller/config.yml"},
		{"Service.EnvironmentFile", "-/etc/devarch-controller/env"},
		{"Service.User", "devarch"},
		{"Service.SupplementaryGroups", "docker"},
		{"Service.StateDirectory", "devarch-controller"},
		{"Service.Environment", "XDG_STATE_HOME=/var/lib"},
		{"Service.Restart", "on-failure"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ReadWritePaths", "/var/lib/devarch-controller"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, tc := range tests {
		if !slices.Contains(s[tc.key], tc.want) {
			t.Errorf("%s = %q, want it to include %q", tc.key, s[tc.key], tc.want)
		}
	}
	// Settings that would cut the controller off the Docker socket or its
	// state directory.
	for _, key := range []string{"Service.PrivateUsers", "Service.PrivateNetwork", "Service.InaccessiblePaths", "Service.DynamicUser"} {
		if v, ok := s[key]; ok {
			t.Errorf("%s = %q breaks Docker socket or state directory access", key, v)
		}
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on a copy of the
// unit whose ExecStart points at an existing executable (verify checks it).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Skip(t, "systemd-analyze not on PATH; install systemd to verify the unit (Debian: apt-get install -y systemd; scripts/test.sh installs it)")
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable() // this test binary stands in for the controller
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "devarch-controller.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/devarch-controller", exe)
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
