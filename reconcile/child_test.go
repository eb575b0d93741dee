package reconcile_test

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/internal/cli"
)

// childEnv, when set, makes the test binary run `devarch-controller serve`
// (through the real command line) instead of the tests: the crash and
// shutdown tests re-execute themselves this way, so the controller runs in
// a process they can kill. Configuration comes from DEVARCH_* variables.
const childEnv = "DEVARCH_RECONCILE_CHILD"

// runChild is cmd/controller's main: signals become context cancellation.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Execute(ctx, []string{"serve", "--pull-policy", "never"}, "test")
}

// child is a `serve` process re-executed from the test binary.
type child struct {
	t       *testing.T
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	state   *os.ProcessState
	err     error
}

// startChild runs serve against e's database and state directory, with
// resync as the resync interval. The process is killed, if still running,
// when the test ends; its log is printed when the test failed (or with -v).
func (e *env) startChild(resync time.Duration) *child {
	e.t.Helper()
	logPath := filepath.Join(e.t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEVARCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"=1",
		"DEVARCH_DATABASE_URL="+e.url, "DEVARCH_STATE_DIR="+e.paths.StateDir, "DEVARCH_HTTP_ADDR=127.0.0.1:0",
		"DEVARCH_RESYNC_INTERVAL="+resync.String(), "DEVARCH_SHUTDOWN_TIMEOUT=30s",
		"DEVARCH_LOG_FORMAT=json", "DEVARCH_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start serve child: %v", err)
	}
	c := &child{t: e.t, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		c.state = cmd.ProcessState
		_ = logFile.Close()
		close(c.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
		if e.t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(logPath)
			e.t.Logf("serve child log:\n%s", b)
		}
	})
	return c
}

// signal sends sig to the child.
func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal serve child: %v", err)
	}
}

// wait waits for the child to exit and returns its state.
func (c *child) wait(timeout time.Duration) *os.ProcessState {
	c.t.Helper()
	select {
	case <-c.done:
		return c.state
	case <-time.After(timeout):
		c.t.Fatalf("serve child still runs after %v", timeout)
		return nil
	}
}

// logContains reports whether the child's log holds s.
func (c *child) logContains(s string) bool {
	b, _ := os.ReadFile(c.logPath)
	return strings.Contains(string(b), s)
}
