package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// tools runs scripts/tools.sh with args, pretending the commands in
// missing are not installed and that it runs as root or not. It returns
// stdout, stderr and whether it exited 0.
func tools(t *testing.T, missing string, root bool, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	return toolsEnv(t, nil, missing, root, args...)
}

// toolsEnv is tools with more environment variables.
func toolsEnv(t *testing.T, env []string, missing string, root bool, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"tools.sh"}, args...)...)
	pretendRoot := "0"
	if root {
		pretendRoot = "1"
	}
	cmd.Env = append(os.Environ(),
		"DEVARCH_TEST_PRETEND_MISSING="+missing,
		"DEVARCH_TEST_PRETEND_ROOT="+pretendRoot,
		"DEVARCH_CHROMIUM=", "DEVARCH_PG_BIN=", "CC=gcc",
	)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("tools.sh %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), err == nil
}

// requireComplete fails (or skips without DEVARCH_TEST_REQUIRE=1) unless
// nothing is missing on this machine: the cases below pretend from there.
func requireComplete(t *testing.T) {
	t.Helper()
	out, errs, ok := tools(t, "", true, "missing")
	if !ok {
		t.Fatalf("tools.sh missing failed: %s", errs)
	}
	if out != "" {
		testenv.Skipf(t, "this machine lacks %s; run scripts/tools.sh install (scripts/test.sh does)", strings.Fields(out))
	}
}

var allBrowsers = "chromium chromium-browser google-chrome google-chrome-stable "

func TestToolsInstallsOnlyWhatIsMissing(t *testing.T) {
	t.Parallel()
	requireComplete(t)
	for _, tt := range []struct {
		name, missing, want string
		env                 []string
	}{
		{"nothing missing", "", "", nil},
		{"browser, promtool, systemd-analyze", allBrowsers + "promtool systemd-analyze", "chromium prometheus systemd", nil},
		{"prometheus only", "prometheus", "prometheus", nil},
		{"a browser named by DEVARCH_CHROMIUM", allBrowsers, "", []string{"DEVARCH_CHROMIUM=/opt/chrome/chrome"}},
		{"C compiler", "gcc", "gcc libc6-dev", nil},
		{"C library headers", "libc6-dev", "gcc libc6-dev", nil},
		{"dockerd, with an engine answering", "dockerd", "", nil},
		{"docker CLI and dockerd", "docker dockerd", "docker.io", nil},
		{"PostgreSQL", "initdb", "postgresql-15", nil},
		{"git and certificates", "git ca-certificates", "git ca-certificates", nil},
		{"Podman", "podman", "podman", nil},
		{"Podman's init", "catatonit", "catatonit", nil},
		{"everything", allBrowsers + "gcc docker dockerd podman catatonit initdb promtool systemd-analyze git ca-certificates",
			"gcc libc6-dev docker.io podman catatonit postgresql-15 chromium prometheus systemd git ca-certificates", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, errs, ok := toolsEnv(t, tt.env, tt.missing, true, "missing")
			if got := strings.Join(strings.Fields(out), " "); !ok || got != tt.want {
				t.Errorf("missing = %q (ok %v, stderr %s), want %q", got, ok, errs, tt.want)
			}
			out, errs, ok = toolsEnv(t, tt.env, tt.missing, true, "install", "--dry-run")
			want := "apt-get install -y " + tt.want
			if tt.want == "" {
				if !ok || out != "" || !strings.Contains(errs, "every tool the tests need is installed") {
					t.Errorf("install --dry-run: ok %v, stdout %q, stderr %q; want nothing to install", ok, out, errs)
				}
				return
			}
			if !ok || strings.TrimSpace(out) != want {
				t.Errorf("install --dry-run: ok %v, stdout %q, stderr %q; want %q", ok, out, errs, want)
			}
		})
	}
}

// TestToolsToolchainFirst: "toolchain" limits missing and install to the C
// toolchain, which scripts/test.sh installs before the rest.
func TestToolsToolchainFirst(t *testing.T) {
	t.Parallel()
	requireComplete(t)
	missing := allBrowsers + "gcc promtool"
	if out, errs, ok := tools(t, missing, true, "missing", "toolchain"); !ok || strings.Join(strings.Fields(out), " ") != "gcc libc6-dev" {
		t.Errorf("missing toolchain = %q (ok %v, stderr %s), want gcc libc6-dev", out, ok, errs)
	}
	if out, errs, ok := tools(t, missing, true, "install", "--dry-run", "toolchain"); !ok || strings.TrimSpace(out) != "apt-get install -y gcc libc6-dev" {
		t.Errorf("install --dry-run toolchain: ok %v, stdout %q, stderr %q", ok, out, errs)
	}
	if out, errs, ok := tools(t, allBrowsers, true, "install", "--dry-run", "toolchain"); !ok || out != "" || !strings.Contains(errs, "the C toolchain is installed") {
		t.Errorf("install --dry-run toolchain with only a browser missing: ok %v, stdout %q, stderr %q; want nothing to do", ok, out, errs)
	}
}

func TestToolsSaysWhatToInstallWhenItCannot(t *testing.T) {
	t.Parallel()
	requireComplete(t)
	missing := allBrowsers + "promtool"
	_, errs, ok := tools(t, missing, false, "install")
	if ok || !strings.Contains(errs, "needs root") || !strings.Contains(errs, "sudo apt-get install -y chromium prometheus\n") {
		t.Errorf("not root: ok %v, stderr %q; want a failure saying: sudo apt-get install -y chromium prometheus", ok, errs)
	}
	_, errs, ok = tools(t, missing+" apt-get", true, "install")
	if ok || !strings.Contains(errs, "apt-get is not available") || !strings.Contains(errs, "    chromium prometheus\n") {
		t.Errorf("no apt-get: ok %v, stderr %q; want a failure naming chromium prometheus", ok, errs)
	}
	// Nothing missing: nothing to do, whoever runs it.
	if _, errs, ok := tools(t, "apt-get", false, "install"); !ok {
		t.Errorf("nothing missing, not root, no apt-get: failed: %s", errs)
	}
}
