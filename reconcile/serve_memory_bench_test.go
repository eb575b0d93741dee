package reconcile_test

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// serveMemory is what measureServe saw of a real `devarch-controller
// serve` process.
type serveMemory struct {
	hwmMB, rssMB float64       // VmHWM and VmRSS from /proc/PID/status, MiB, after the first pass
	firstPass    time.Duration // from the start of the process to every stack reconciled
	ready        time.Duration // from the start of the process to /readyz answering 200
	// After the events (serveLoad.events renames, each an engine event of
	// one stack's container) and the soak.
	eventsHWM, eventsRSS float64
	events               int
	soak                 time.Duration
	soakRSS              []float64 // VmRSS sampled every soakSample during the soak, MiB
	soakHWM              float64
}

// serveLoad is the work measureServe gives serve after its first pass:
// events renames of the containers ids (each renamed and renamed back:
// two engine events of one stack), then renames for soak.
type serveLoad struct {
	ids    []string
	events int
	soak   time.Duration
}

// soakSample is how often the soak samples serve's VmRSS.
const soakSample = 5 * time.Second

// measureServe builds devarch-controller (no race detector, as a user runs
// it; without -trimpath, so the build cache go vet and the e2e tests filled
// is reused), starts `serve` against the database dbURL with state
// directory stateDir, waits until its first full pass has reconciled
// stacks stacks (each one's devarch_stack_last_reconcile_timestamp_seconds
// on /metrics is later than the start) and /readyz answers 200, then
// reads the process's peak resident memory (VmHWM) and current resident
// memory (VmRSS). Then it gives serve load's engine events and soak, reads
// its memory again, and stops it with SIGTERM. The resync interval is 10
// minutes, so the figures cover start-up, exactly one full pass and the
// passes the events cause.
func measureServe(b *testing.B, dbURL, stateDir string, stacks int, load serveLoad) serveMemory {
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
	var m serveMemory
	for m.firstPass == 0 || m.ready == 0 {
		if m.ready == 0 {
			if res, err := hc.Get("http://" + addr + "/readyz"); err == nil {
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					m.ready = time.Since(started)
				}
			}
		}
		if m.firstPass == 0 {
			if n, err := reconciledSince(hc, "http://"+addr+"/metrics", started); err == nil && n >= stacks {
				m.firstPass = time.Since(started)
			}
		}
		select {
		case err := <-exited:
			b.Fatalf("serve exited before its first full pass: %v\n%s", err, tail(logPath, 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve did not finish its first pass over %d stacks in 10 minutes (ready %v)\n%s", stacks, m.ready, tail(logPath, 30))
		}
	}
	if m.hwmMB, m.rssMB, err = procMemory(cmd.Process.Pid); err != nil {
		b.Fatal(err)
	}
	if load.events > 0 && len(load.ids) > 0 {
		m.events = renameEvents(b, testenv.Docker(b), load.ids, load.events/2, time.Time{}) * 2
		time.Sleep(2 * time.Second) // the last events' passes
		if m.eventsHWM, m.eventsRSS, err = procMemory(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
	}
	if load.soak > 0 && len(load.ids) > 0 {
		cli := testenv.Docker(b)
		end := time.Now().Add(load.soak)
		for next := time.Now(); time.Now().Before(end); next = next.Add(soakSample) {
			_, rss, err := procMemory(cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			m.soakRSS = append(m.soakRSS, rss)
			until := next.Add(soakSample)
			if until.After(end) {
				until = end
			}
			renameEvents(b, cli, load.ids, -1, until)
		}
		m.soak = load.soak
		if m.soakHWM, _, err = procMemory(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// renameEvents renames containers of ids, one at a time round the list,
// and back (two engine events each), n times or, with n < 0, until until.
// It returns how many it renamed.
func renameEvents(b *testing.B, cli *client.Client, ids []string, n int, until time.Time) int {
	b.Helper()
	ctx := context.Background()
	done := 0
	for i := 0; n < 0 || done < n; i++ {
		if n < 0 && time.Now().After(until) {
			break
		}
		id := ids[i%len(ids)]
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimPrefix(res.Container.Name, "/")
		if _, err := cli.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name + "-renamed"}); err != nil {
			b.Fatal(err)
		}
		if _, err := cli.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name}); err != nil {
			b.Fatal(err)
		}
		done++
	}
	return done
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
