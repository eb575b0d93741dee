package reconcile_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// serveMemory is what measureServe saw of a real `devarch-controller
// serve` process.
type serveMemory struct {
	hwmMB, rssMB float64       // VmHWM and VmRSS from /proc/PID/status, MiB
	firstPass    time.Duration // from the start of the process to every stack reconciled
}

// measureServe builds devarch-controller (no race detector, as a user runs
// it; without -trimpath, so the build cache go vet and the e2e tests filled
// is reused), starts `serve` against the database dbURL with state
// directory stateDir, waits until its first full pass has reconciled
// stacks stacks (each one's devarch_stack_last_reconcile_timestamp_seconds
// on /metrics is later than the start), then reads the process's peak
// resident memory (VmHWM) and current resident memory (VmRSS), and stops it
// with SIGTERM. The resync interval is 10 minutes, so the figures cover
// start-up and exactly one full pass.
func measureServe(b *testing.B, dbURL, stateDir string, stacks int) serveMemory {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "devarch-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/controller")
	build.Dir = testenv.RepoRoot(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/controller: %v\n%s", err, out)
	}

	addr := freeLoopbackAddr(b)
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "serve", "--pull-policy", "never")
	cmd.Env = append(withoutDevarchEnv(),
		"DEVARCH_DATABASE_URL="+dbURL,
		"DEVARCH_STATE_DIR="+stateDir,
		"DEVARCH_HTTP_ADDR="+addr,
		"DEVARCH_RESYNC_INTERVAL=10m",
		"DEVARCH_LOG_FORMAT=json",
		"DEVARCH_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphan if the benchmark dies
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopServe(b, cmd, exited, logPath)

	deadline := started.Add(10 * time.Minute)
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		n, err := reconciledSince(hc, "http://"+addr+"/metrics", started)
		if err == nil && n >= stacks {
			break
		}
		select {
		case err := <-exited:
			b.Fatalf("serve exited before its first full pass: %v\n%s", err, tail(logPath, 30))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve reconciled %d of %d stacks in 10 minutes (last error: %v)\n%s", n, stacks, err, tail(logPath, 30))
		}
	}
	m := serveMemory{firstPass: time.Since(started)}
	m.hwmMB, m.rssMB, err = procMemory(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// reconciledSince scrapes a /metrics endpoint and counts the stacks whose
// last reconciliation is after since.
func reconciledSince(hc *http.Client, url string, since time.Time) (int, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	const series = "devarch_stack_last_reconcile_timestamp_seconds{"
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, series) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil && v >= float64(since.UnixNano())/1e9 {
			n++
		}
	}
	return n, sc.Err()
}

// procMemory reads VmHWM (peak resident set size) and VmRSS of a process,
// in MiB.
func procMemory(pid int) (hwm, rss float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the memory of serve: %w", err)
	}
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			hwm, found = kb/1024, found+1
		case "VmRSS:":
			rss, found = kb/1024, found+1
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmHWM or VmRSS line", pid)
	}
	return hwm, rss, nil
}

// stopServe sends SIGTERM and waits up to 30 s for serve to exit 0.
func stopServe(b *testing.B, cmd *exec.Cmd, exited <-chan error, logPath string) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		b.Errorf("send SIGTERM to serve: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			b.Errorf("serve exited with %v after SIGTERM, want status 0\n%s", err, tail(logPath, 30))
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		b.Errorf("serve did not exit within 30 s of SIGTERM\n%s", tail(logPath, 30))
	}
}

// withoutDevarchEnv is this process's environment without DEVARCH_*
// variables: serve gets only the settings measureServe gives it.
func withoutDevarchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEVARCH_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeLoopbackAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
