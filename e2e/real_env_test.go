package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// The real backend: a `devarch-controller serve` child process built from
// this checkout, with a fresh PostgreSQL database and the test Docker
// engine (internal/testenv). TestRealBackend starts one and runs every
// real-backend scenario against it, each on a stack of its own.

// realSecret is the value of the one secret the real stacks carry
// (API_TOKEN: ${SECRET:E2E_API_TOKEN}). It must never reach the page or the
// controller's log.
const realSecret = "e2e-api-token-3141-must-not-show"

// realScreenshots are the screenshots the real-backend suite takes. When it
// can run here, the fake-backend tests leave these files alone, so
// DEVARCH_UPDATE_SCREENSHOTS=1 over the whole package keeps the real ones.
var realScreenshots = map[string]bool{"stacks.png": true, "plan.png": true, "apply-progress.png": true, "apply-failure.png": true}

// realBackendConfigured reports whether the real-backend suite can run:
// PostgreSQL and Docker are configured for tests.
func realBackendConfigured() bool {
	return os.Getenv(testenv.EnvDatabaseURL) != "" && os.Getenv(testenv.EnvDocker) == "1"
}

// realBackend is one running `serve` and what the scenarios need around it.
type realBackend struct {
	t        *testing.T // the test that owns the process, database and stacks
	root     string     // the module's root directory
	bin      string     // the devarch-controller binary built for the run
	dir      string     // the run's temporary directory (state dir, log, templates)
	dbURL    string
	stateDir string
	base     string // "http://127.0.0.1:PORT/"
	docker   *client.Client

	serve   *exec.Cmd
	logPath string
	exited  chan struct{} // closed when serve exited; exitErr is then set
	exitErr error

	mu     sync.Mutex
	stacks []string // stack names whose Docker resources are removed at the end
}

// startRealBackend builds the binary, fills a fresh database with the
// catalog, starts `serve` and waits until it is ready. Everything is undone
// when t ends: serve is stopped, the stacks' containers, networks and
// volumes are removed, the database is dropped.
func startRealBackend(t *testing.T) *realBackend {
	t.Helper()
	start := time.Now()
	b := &realBackend{t: t, dir: t.TempDir(), dbURL: testenv.DatabaseURL(t), docker: testenv.Docker(t)}
	b.stateDir = filepath.Join(b.dir, "state")
	b.root = testenv.RepoRoot(t)
	b.bin = filepath.Join(b.dir, "devarch-controller")
	b.buildBinary()
	b.tagDemoImages()
	templates := b.writeExtraTemplates()
	b.cli(t, "catalog", "import", filepath.Join(b.root, "examples", "templates"), templates)
	// The import migrated the database: move its ids away from those of
	// the other tests' databases (see testenv.UniqueIDs).
	testenv.UniqueIDs(t, b.dbURL)
	t.Cleanup(b.removeStacks) // registered before the stop, so it runs after it
	b.startServe()
	t.Logf("real backend ready at %s in %s (serve log %s)", b.base, time.Since(start).Round(time.Millisecond), b.logPath)
	return b
}

// buildBinary builds ./cmd/controller, with -race when the tests run with
// it: a data race in serve then makes it exit 66, which stopServe reports.
func (b *realBackend) buildBinary() {
	t := b.t
	t.Helper()
	start := time.Now()
	args := []string{"build", "-o", b.bin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/controller")...)
	build.Dir = b.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(build.Args[1:], " "), err, out)
	}
	t.Logf("built %s (race detector %v) in %s", b.bin, raceBuild, time.Since(start).Round(time.Millisecond))
}

// tagDemoImages makes sure devarch-demo/{web,api,cache}:1, the images of
// the demo templates, exist: they are tags of the local test image.
func (b *realBackend) tagDemoImages() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"web", "api", "cache"} {
		ref := "devarch-demo/" + name + ":1"
		if _, err := b.docker.ImageInspect(ctx, ref); err == nil {
			continue
		}
		if _, err := b.docker.ImageTag(ctx, client.ImageTagOptions{Source: testenv.TestImage, Target: ref}); err != nil {
			b.t.Fatalf("tag %s as %s: %v (build the test image with scripts/images.sh)", testenv.TestImage, ref, err)
		}
	}
}

// waiterTemplate depends on the instance "api" becoming healthy: an apply
// of a stack using it waits for api's first healthcheck, so progress
// events arrive over seconds (the apply-progress scenario).
const waiterTemplate = `# e2e: a web server that starts only once the instance "api" is healthy.
services:
  e2e-waiter:
    image: devarch-demo/web:1
    restart: unless-stopped
    depends_on:
      api:
        condition: service_healthy
`

// writeExtraTemplates writes the e2e templates to a catalog folder and
// returns it.
func (b *realBackend) writeExtraTemplates() string {
	dir := filepath.Join(b.dir, "templates")
	path := filepath.Join(dir, "e2e", "e2e-waiter", "compose.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatalf("create template folder: %v", err)
	}
	if err := os.WriteFile(path, []byte(waiterTemplate), 0o644); err != nil {
		b.t.Fatalf("write template: %v", err)
	}
	return dir
}

// env is the environment of every devarch-controller process of the run:
// the caller's environment without any DEVARCH_* variable (a developer's
// settings must not leak in), plus the run's settings.
func (b *realBackend) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEVARCH_") && !strings.HasPrefix(kv, "E2E_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"DEVARCH_DATABASE_URL="+b.dbURL,
		"DEVARCH_STATE_DIR="+b.stateDir,
		"DEVARCH_LOG_FORMAT=json",
		"E2E_API_TOKEN="+realSecret,
	)
}

// cli runs a devarch-controller command to its end (at most a minute) and
// returns its output; a failure fails t.
func (b *realBackend) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = b.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("devarch-controller %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startServe starts `serve` on a free loopback port and waits for /readyz.
func (b *realBackend) startServe() {
	t := b.t
	t.Helper()
	addr := testenv.FreeAddr(t)
	b.base = "http://" + addr + "/"
	b.logPath = filepath.Join(b.dir, "serve.log")
	logFile, err := os.Create(b.logPath)
	if err != nil {
		t.Fatalf("create serve log: %v", err)
	}
	defer logFile.Close() // the child has its own descriptor
	// --pull-policy never: no registry is reachable, and an image that is
	// not local must fail the apply at once (the failure scenario).
	b.serve = exec.Command(b.bin, "serve", "--pull-policy", "never")
	b.serve.Env = append(b.env(), "DEVARCH_HTTP_ADDR="+addr, "DEVARCH_RESYNC_INTERVAL=30s")
	b.serve.Stdout, b.serve.Stderr = logFile, logFile
	setParentDeathSignal(b.serve)
	if err := b.serve.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	b.exited = make(chan struct{})
	go func() {
		b.exitErr = b.serve.Wait()
		close(b.exited)
	}()
	t.Cleanup(b.stopServe)
	b.waitReady(30 * time.Second)
}

// waitReady polls /readyz until it answers 200, serve exits, or timeout.
func (b *realBackend) waitReady(timeout time.Duration) {
	t := b.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(b.base + "readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-b.exited:
			t.Fatalf("serve exited before it was ready: %v\n%s", b.exitErr, b.logTail(40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within %s (last: %v)\n%s", timeout, err, b.logTail(40))
		}
	}
}

// stopServe sends SIGTERM, then SIGKILL after 10 s. serve must exit 0 on
// SIGTERM. The log is shown when the test failed, and must not hold the
// secret in any case.
func (b *realBackend) stopServe() {
	t := b.t
	if err := b.serve.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("send SIGTERM to serve: %v", err)
	}
	select {
	case <-b.exited:
		if b.exitErr != nil {
			t.Errorf("serve exited with %v after SIGTERM, want status 0 (66 is a data race: see the log)", b.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("serve did not exit within 10 s of SIGTERM; killing it")
		_ = b.serve.Process.Kill()
		<-b.exited
	}
	log, err := os.ReadFile(b.logPath)
	if err != nil {
		t.Errorf("read serve log: %v", err)
	}
	if bytes.Contains(log, []byte(realSecret)) {
		t.Errorf("the controller's log contains the secret value of API_TOKEN")
	}
	if t.Failed() {
		t.Logf("serve log (last lines):\n%s", b.logTail(60))
	}
}

// logTail returns the last n lines of serve's log.
func (b *realBackend) logTail(n int) string {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// getJSON GETs an API path (relative to the base URL) and decodes it.
func (b *realBackend) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Get(b.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode GET %s: %v", path, err)
	}
}

// stackID returns a stack's id, from the API.
func (b *realBackend) stackID(t *testing.T, name string) int64 {
	t.Helper()
	var s struct {
		ID int64 `json:"id"`
	}
	b.getJSON(t, "api/v1/stacks/"+name, &s)
	if s.ID == 0 {
		t.Fatalf("stack %s has no id in the API", name)
	}
	return s.ID
}

// newStackName returns a unique stack name (the Docker engine is shared
// with other packages' tests) and removes the stack's Docker resources at
// the end of the run.
func (b *realBackend) newStackName(prefix string) string {
	name := testenv.UniqueName(prefix)
	b.mu.Lock()
	b.stacks = append(b.stacks, name)
	b.mu.Unlock()
	return name
}

// removeStacks removes every container, network and volume labelled with
// one of the run's stacks, stacks in parallel.
func (b *realBackend) removeStacks() {
	b.mu.Lock()
	stacks := append([]string(nil), b.stacks...)
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range stacks {
		wg.Go(func() { testenv.RemoveLabeled(b.t, b.docker, spec.LabelStack+"="+name) })
	}
	wg.Wait()
}
