package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
)

const (
	testPassword = "hunter2-Sup3rSecret"
	testToken    = "tok-9f8e7d6c5b4a"
)

type result struct {
	code           int
	stdout, stderr string
}

// run executes args with a fake environment (HOME plus env pairs).
func run(t *testing.T, ctx context.Context, args []string, env map[string]string, cmds ...CommandFunc) result {
	t.Helper()
	full := map[string]string{"HOME": "/home/tester"}
	for k, v := range env {
		full[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := full[k]; return v, ok }
	var out, errOut bytes.Buffer
	code := Execute(ctx, args, "v1.2.3",
		WithStreams(strings.NewReader(""), &out, &errOut), WithLookupEnv(lookup), WithCommands(cmds...))
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// probe is a subcommand that records what App gives it and returns err.
func probe(got *config.Config, err error) CommandFunc {
	return func(app *App) *cobra.Command {
		return &cobra.Command{
			Use: "probe",
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, cerr := app.Config()
				if cerr != nil {
					return cerr
				}
				*got = cfg
				app.Logger().Info("probe ran", zap.String("stack", "shop"))
				return err
			},
		}
	}
}

func TestConfigPrintPrecedence(t *testing.T) {
	r := run(t, context.Background(),
		[]string{"config", "print", "--http-addr", "127.0.0.1:9999"},
		map[string]string{"DEVARCH_WORKERS": "5", "DEVARCH_HTTP_ADDR": "127.0.0.1:1111"})
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"workers: 5\n", "http_addr: 127.0.0.1:9999\n", "state_dir: /home/tester/.local/state/devarch-controller\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestConfigPrintJSON(t *testing.T) {
	r := run(t, context.Background(), []string{"config", "print", "-o", "json"}, nil)
	var m map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m["workers"] != float64(2) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want JSON with workers 2", r.code, r.stdout, r.stderr)
	}
}

func TestConfigPrintInvalidPrintsThenFails(t *testing.T) {
	r := run(t, context.Background(), []string{"config", "print", "--workers", "0"}, nil)
	if r.code != 1 {
		t.Errorf("exit %d; want 1", r.code)
	}
	if !strings.Contains(r.stdout, "workers: 0\n") {
		t.Errorf("stdout %q; want the effective config", r.stdout)
	}
	if r.stderr != "Error: workers must be at least 1; got 0.\n" {
		t.Errorf("stderr %q; want the single problem, once, without usage", r.stderr)
	}
}

func TestNoSecretInAnyOutput(t *testing.T) {
	env := map[string]string{
		"DEVARCH_DATABASE_URL": "postgres://devarch:" + testPassword + "@127.0.0.1:5432/devarch",
		"DEVARCH_API_TOKEN":    testToken,
		"DEVARCH_LOG_LEVEL":    "debug",
	}
	var got config.Config
	for _, args := range [][]string{
		{"config", "print"}, {"config", "print", "-o", "json"}, {"probe"},
		{"config", "print", "--workers", "0", "--http-addr", "bad"},
	} {
		r := run(t, context.Background(), args, env, probe(&got, nil))
		if strings.Contains(r.stdout+r.stderr, testPassword) || strings.Contains(r.stdout+r.stderr, testToken) {
			t.Errorf("%v leaks a secret:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
		}
	}
	if got.APIToken != testToken {
		t.Errorf("the command did not receive the real token")
	}
}

func TestCommandGetsValidatedConfigAndLogger(t *testing.T) {
	var got config.Config
	r := run(t, context.Background(), []string{"probe", "--workers", "3"},
		map[string]string{"DEVARCH_LOG_LEVEL": "debug", "DEVARCH_LOG_FORMAT": "json"}, probe(&got, nil))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got.Workers != 3 || got.LogLevel != "debug" {
		t.Errorf("command got workers=%d log_level=%s; want 3 debug", got.Workers, got.LogLevel)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"msg":"loaded configuration"`) ||
		!strings.Contains(lines[1], `"msg":"probe ran"`) || !strings.Contains(lines[1], `"stack":"shop"`) {
		t.Errorf("stderr = %q; want the debug config entry and the probe's JSON entry", r.stderr)
	}
}

func TestInvalidConfigStopsCommandBeforeRun(t *testing.T) {
	ran := false
	cmd := func(*App) *cobra.Command {
		return &cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error { ran = true; return nil }}
	}
	r := run(t, context.Background(), []string{"serve"}, map[string]string{"DEVARCH_WORKERS": "0", "DEVARCH_LOG_LEVEL": "loud"}, cmd)
	if ran || r.code != 1 {
		t.Fatalf("ran=%v exit=%d; want the command not run and exit 1", ran, r.code)
	}
	want := "Error: the configuration has 2 problems:\n  - workers must be at least 1; got 0.\n  - log_level \"loud\" is not one of debug, info, warn, error.\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

func TestSkipConfigCommandsRunWithInvalidConfig(t *testing.T) {
	env := map[string]string{"DEVARCH_WORKERS": "0"}
	for _, args := range [][]string{{"version"}, {"--help"}, {"help"}, {"config"}, {"--version"}, {"completion", "bash"}} {
		if r := run(t, context.Background(), args, env); r.code != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 0", args, r.code, r.stderr)
		}
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	fail := func(err error) CommandFunc {
		return func(*App) *cobra.Command {
			return &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return err }}
		}
	}
	tests := []struct {
		name       string
		args       []string
		cmd        CommandFunc
		wantCode   int
		wantStderr string // exact, or prefix when wantUsage
		wantUsage  bool
	}{
		{"runtime error: message once, no usage", []string{"fail"}, fail(errors.New("apply stack shop: boom")), 1,
			"Error: apply stack shop: boom\n", false},
		{"silent exit code", []string{"fail"}, fail(&ExitError{Code: 2}), 2, "", false},
		{"exit code with message", []string{"fail"}, fail(&ExitError{Code: 3, Err: errors.New("drift found")}), 3,
			"Error: drift found\n", false},
		{"wrapped silent exit code stays silent", []string{"fail"}, fail(fmt.Errorf("plan: %w", &ExitError{Code: 2})), 2,
			"", false},
		{"code below 1 means 1", []string{"fail"}, fail(&ExitError{Code: 0, Err: errors.New("x")}), 1, "Error: x\n", false},
		{"unknown flag shows usage", []string{"config", "print", "--wrkers", "3"}, nil, 1,
			"Error: unknown flag: --wrkers\n\nUsage:\n  devarch-controller config print [flags]", true},
		{"bad flag value shows usage", []string{"config", "print", "--workers", "x"}, nil, 1,
			"Error: invalid argument \"x\" for \"--workers\" flag", true},
		{"unknown command shows usage", []string{"frobnicate"}, nil, 1,
			"Error: unknown command \"frobnicate\" for \"devarch-controller\"", true},
		{"unknown subcommand of a group", []string{"config", "frobnicate"}, nil, 1,
			"Error: unknown command \"frobnicate\" for \"devarch-controller config\"", true},
		{"bad output format", []string{"config", "print", "-o", "toml"}, nil, 1,
			"Error: unknown output format \"toml\"; use -o yaml or -o json\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cmds []CommandFunc
			if tt.cmd != nil {
				cmds = append(cmds, tt.cmd)
			}
			r := run(t, context.Background(), tt.args, nil, cmds...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d; want %d", r.code, tt.wantCode)
			}
			if tt.wantUsage {
				if !strings.HasPrefix(r.stderr, tt.wantStderr) || !strings.Contains(r.stderr, "Usage:") {
					t.Errorf("stderr %q; want prefix %q and usage", r.stderr, tt.wantStderr)
				}
			} else if r.stderr != tt.wantStderr {
				t.Errorf("stderr %q; want %q", r.stderr, tt.wantStderr)
			}
			if n := strings.Count(r.stderr, "Error:"); n > 1 {
				t.Errorf("error printed %d times", n)
			}
		})
	}
}

func TestInterruptedExitCode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := func(*App) *cobra.Command {
		return &cobra.Command{Use: "wait", RunE: func(cmd *cobra.Command, _ []string) error {
			cancel()
			<-cmd.Context().Done()
			return fmt.Errorf("wait for stack: %w", cmd.Context().Err())
		}}
	}
	r := run(t, ctx, []string{"wait"}, nil, wait)
	if r.code != ExitInterrupted || r.stderr != "Error: wait for stack: context canceled\n" {
		t.Errorf("exit %d, stderr %q; want %d and the error", r.code, r.stderr, ExitInterrupted)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, context.Background(), []string{"version"}, nil)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "version:  v1.2.3\ngo:       go") || !strings.Contains(r.stdout, "platform: ") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, context.Background(), []string{"version", "-o", "json"}, nil)
	var info versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Version != "v1.2.3" || info.Go == "" {
		t.Errorf("json version %q (%v)", r.stdout, err)
	}
	r = run(t, context.Background(), []string{"--version"}, nil)
	if r.stdout != "devarch-controller v1.2.3\n" {
		t.Errorf("--version printed %q", r.stdout)
	}
}

func TestConfigWithoutExecuting(t *testing.T) {
	app := newApp("dev", WithLookupEnv(func(k string) (string, bool) {
		return map[string]string{"HOME": "/h", "DEVARCH_WORKERS": "4"}[k], k == "HOME" || k == "DEVARCH_WORKERS"
	}))
	cfg, err := app.Config()
	if err != nil || cfg.Workers != 4 {
		t.Fatalf("Config() = %v, %v; want workers 4 from the environment", cfg, err)
	}
	if app.Logger() == nil {
		t.Fatal("Logger() returned nil")
	}
}
