package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envRunMain makes the test binary behave as the real program, so the tests
// below exercise main() (argv[0] dispatch included) in a child process.
const envRunMain = "TESTIMAGE_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child is the program running in a subprocess under a chosen argv[0].
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	done   chan error
}

func startChild(t *testing.T, argv0 string, args []string, env ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("find test binary: %v", err)
	}
	cmd := &exec.Cmd{
		Path: exe,
		Args: append([]string{argv0}, args...),
		// The race detector otherwise sleeps 1s before every exit.
		Env: append([]string{envRunMain + "=1", "GORACE=atexit_sleep_ms=0"}, env...),
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 16), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv0, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// waitLine returns the first output line with the given prefix.
func (c *child) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("process ended before printing %q; stderr: %s", prefix, c.stderr)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q line within 5s", prefix)
		}
	}
}

// wait returns the exit code and how long the process took to end.
func (c *child) wait(t *testing.T, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	go func() {
		for range c.lines { // drain so the reader reaches Wait
		}
	}()
	select {
	case err := <-c.done:
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			return 0, time.Since(start)
		case errors.As(err, &exitErr):
			return exitErr.ExitCode(), time.Since(start)
		default:
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("process still running after %s", limit)
	}
	return -1, 0
}

func TestOtherNamesExitZeroAtOnce(t *testing.T) {
	tests := []struct {
		argv0 string
		args  []string
	}{
		{"/bin/sh", []string{"-c", "exit 1"}},
		{"/usr/bin/curl", []string{"-f", "http://localhost:80/"}},
		{"pg_isready", []string{"-U", "postgres"}},
		{"/usr/bin/healthcheck.sh", nil},
		{"/opt/mssql-tools18/bin/sqlcmd", []string{"-Q", "SELECT 1"}},
		{"sleeper.sh", nil}, // only the exact name "sleeper" sleeps
	}
	for _, tt := range tests {
		t.Run(tt.argv0, func(t *testing.T) {
			c := startChild(t, tt.argv0, tt.args, "SLEEPER_EXIT_CODE=9")
			code, _ := c.wait(t, 5*time.Second)
			if code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
			if c.stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", c.stderr)
			}
		})
	}
}

func TestSleeperExitsPromptlyOnStopSignal(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, "/sleeper", []string{"sh", "-c", "npm install && npm run dev"})
			c.waitLine(t, "sleeper: ready")
			if err := c.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatalf("signal: %v", err)
			}
			code, took := c.wait(t, 5*time.Second)
			if code != 0 {
				t.Errorf("exit code = %d, want 0; stderr: %s", code, c.stderr)
			}
			if took > time.Second {
				t.Errorf("exit took %s after %s, want under 1s", took, tt.name)
			}
		})
	}
}

func TestSleeperExitAfter(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		wantCode   int
		wantStderr string
	}{
		{"default code", []string{"SLEEPER_EXIT_AFTER=50ms"}, 1, ""},
		{"chosen code", []string{"SLEEPER_EXIT_AFTER=50ms", "SLEEPER_EXIT_CODE=7"}, 7, ""},
		{"code zero", []string{"SLEEPER_EXIT_AFTER=50ms", "SLEEPER_EXIT_CODE=0"}, 0, ""},
		{"bad duration", []string{"SLEEPER_EXIT_AFTER=soon"}, exitUsage, envExitAfter},
		{"bad code", []string{"SLEEPER_EXIT_AFTER=50ms", "SLEEPER_EXIT_CODE=300"}, exitUsage, envExitCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, "sleeper", nil, tt.env...)
			code, _ := c.wait(t, 5*time.Second)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.wantCode, c.stderr)
			}
			if tt.wantStderr != "" && !strings.Contains(c.stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to name %s", c.stderr, tt.wantStderr)
			}
		})
	}
}

func TestSleeperServesHTTPPage(t *testing.T) {
	c := startChild(t, "sleeper", nil, "SLEEPER_HTTP_ADDR=127.0.0.1:0", "SLEEPER_MESSAGE=hello from the demo")
	line := c.waitLine(t, "sleeper: serving HTTP on ")
	addr := strings.TrimPrefix(line, "sleeper: serving HTTP on ")
	c.waitLine(t, "sleeper: ready")

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("get page: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"message: hello from the demo", "hostname: " + host} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page %q does not contain %q", body, want)
		}
	}

	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	if code, _ := c.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestSleeperNeverPrintsArgumentsOrEnvironment(t *testing.T) {
	const secret = "hunter2-do-not-print"
	c := startChild(t, "sleeper", []string{"--password=" + secret},
		"DB_PASSWORD="+secret, "SLEEPER_EXIT_AFTER=20ms", "SLEEPER_EXIT_CODE=0")
	var out strings.Builder
	for l := range c.lines {
		out.WriteString(l + "\n")
	}
	if code, _ := c.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0", code)
	}
	if strings.Contains(out.String()+c.stderr.String(), secret) {
		t.Errorf("output leaks a secret: stdout %q stderr %q", out.String(), c.stderr)
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		hostname func() (string, error)
		want     string
	}{
		{"page", "/", func() (string, error) { return "web-1", nil }, "hostname: web-1\nmessage: hi\n"},
		{"any path", "/x/y", func() (string, error) { return "web-1", nil }, "hostname: web-1\nmessage: hi\n"},
		{"no hostname", "/", func() (string, error) { return "", errors.New("boom") }, "hostname: unknown\nmessage: hi\n"},
		{"healthz", "/healthz", nil, "ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newHandler("hi", tt.hostname).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", rec.Code)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}
