package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// testVersion is the version the tests' serve reports in devarch_build_info.
const testVersion = "v0.0.0-servetest"

// testShutdownTimeout is the tests' shutdown_timeout; Run must return
// within it once its context is cancelled (nothing is applying).
const testShutdownTimeout = 10 * time.Second

// running is one serve.Run started in-process by a test.
type running struct {
	addr   string // host:port the HTTP server listens on
	base   string // http://addr
	stack  string // the one stack of its database (no instances)
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error // Run's result
}

// startRun runs Run against a fresh database holding one empty stack and
// the test Docker engine, with a private registry, on a loopback port the
// kernel chooses. It returns once /readyz answers 200. The test's cleanup
// stops Run if the test did not.
func startRun(t *testing.T) *running {
	t.Helper()
	testenv.Docker(t) // the engine must answer: fails under DEVARCH_TEST_REQUIRE=1, else skips
	dbURL := testenv.DatabaseURL(t)
	ctx := t.Context()
	if err := state.Migrate(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	// Containers carry only ids: keep this database's away from the
	// other tests' (see testenv.UniqueIDs).
	testenv.UniqueIDs(t, dbURL)
	r := &running{stack: testenv.UniqueName("serve"), reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	store, err := state.Open(ctx, dbURL, "serve-test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.CreateStack(ctx, spec.Stack{Name: r.stack, Enabled: true})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Defaults(nil)
	cfg.DatabaseURL, cfg.HTTPAddr, cfg.StateDir = dbURL, "127.0.0.1:0", t.TempDir()
	cfg.ShutdownTimeout, cfg.Workers = testShutdownTimeout, 1
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r.start(t, cfg, zap.WarnLevel)
	r.waitReady(t)
	return r
}

// start runs the controller (Run) with cfg until the test ends, and
// returns once it listens, with r.addr and r.base set. Its log goes to the
// test at level and above.
func (r *running) start(t *testing.T, cfg config.Config, level zapcore.Level) {
	t.Helper()
	listening := make(chan string, 1)
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- Run(runCtx, Options{
			Config:     cfg,
			Paths:      project.Options{StateDir: cfg.StateDir, WorkspaceDir: filepath.Join(cfg.StateDir, "workspace")},
			PullPolicy: "never", Version: testVersion, Registry: r.reg,
			Logger:   zaptest.NewLogger(t, zaptest.Level(level)),
			OnListen: func(addr string) { listening <- addr },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			t.Error("Run did not return within a minute of its context's end")
		}
	})
	select {
	case r.addr = <-listening:
	case err := <-r.done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Run did not listen within a minute")
	}
	r.base = "http://" + r.addr
}

// waitReady polls /readyz until it answers 200.
func (r *running) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := r.get(t, "/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d after a minute: %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get fetches path and returns the status code and body.
func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get(r.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return res.StatusCode, string(b)
}

// waitMetric polls /metrics until it holds the line want (a series and
// its value) and returns the exposition.
func (r *running) waitMetric(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := r.get(t, "/metrics")
		if code == http.StatusOK && slices.Contains(strings.Split(body, "\n"), want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics (%d) lacks %q after a minute:\n%s", code, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRun starts Run in-process, sees the loop's series and the build
// info on /metrics and in the private registry, then cancels its context:
// Run returns nil within the shutdown timeout and the port is closed.
func TestRun(t *testing.T) {
	r := startRun(t)
	// Ready means the first full pass is done: the stack's status is
	// known at once, not some time later.
	if code, body := r.get(t, "/readyz"); code != http.StatusOK || !strings.Contains(body, `{"name":"first_pass","status":"ok"}`) {
		t.Errorf("/readyz: %d %s, want 200 with the first_pass check", code, body)
	}
	if _, body := r.get(t, "/metrics"); !strings.Contains(body, `devarch_stack_condition{condition="InSync",stack="`+r.stack+`"} 1`) {
		t.Errorf("/metrics has no status of stack %s once /readyz answers 200", r.stack)
	}
	body := r.waitMetric(t, `devarch_stack_condition{condition="InSync",stack="`+r.stack+`"} 1`)
	for _, want := range []string{
		`devarch_build_info{go_version="` + runtime.Version() + `",version="` + testVersion + `"} 1`,
		`devarch_database_up 1`,
		`devarch_runtime_up{engine="default"} 1`,
		`devarch_stack_drifted{engine="default",stack="` + r.stack + `"} 0`,
	} {
		if !slices.Contains(strings.Split(body, "\n"), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(body, "\ndevarch_reconcile_total{result=\"success\"} ") || !strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("/metrics lacks devarch_reconcile_total or the Go collector:\n%s", body)
	}
	// The registry the test gave Run is the one /metrics serves.
	if n, err := testutil.GatherAndCount(r.reg, "devarch_build_info", "devarch_stack_drifted"); err != nil || n != 2 {
		t.Errorf("private registry: %d build info and drift series (err %v), want 2", n, err)
	}

	r.cancel()
	start := time.Now()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v after its context ended, want nil", err)
		}
		t.Logf("Run returned %s after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(testShutdownTimeout):
		t.Fatalf("Run did not return within the shutdown timeout (%s)", testShutdownTimeout)
	}
	r.done <- nil // for the cleanup
	conn, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Run returned", r.addr)
	}
}

// TestRunFailsToListen checks that Run reports an address it cannot
// listen on, having started nothing that outlives it.
func TestRunFailsToListen(t *testing.T) {
	testenv.Docker(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config.Defaults(nil)
	cfg.DatabaseURL, cfg.HTTPAddr, cfg.StateDir = testenv.DatabaseURL(t), taken.Addr().String(), t.TempDir()
	err = Run(t.Context(), Options{Config: cfg, Paths: project.Options{StateDir: cfg.StateDir, WorkspaceDir: filepath.Join(cfg.StateDir, "workspace")}})
	if err == nil || !strings.Contains(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Run on a taken port = %v, want a listen error naming the address", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the listener's *net.OpError", err)
	}
}

// allFamilies is every devarch_ family /metrics exports (the loop's and
// devarch_build_info); renaming one breaks dashboards and alerts, so the
// list is pinned here.
var allFamilies = []string{
	"devarch_apply_duration_seconds",
	"devarch_apply_mismatch_total",
	"devarch_apply_total",
	"devarch_approvals",
	"devarch_build_info",
	"devarch_database_up",
	"devarch_lock_conflicts_total",
	"devarch_metrics_invalid_label_values_total",
	"devarch_orphans",
	"devarch_reconcile_duration_seconds",
	"devarch_reconcile_total",
	"devarch_runtime_up",
	"devarch_stack_changes",
	"devarch_stack_condition",
	"devarch_stack_drifted",
	"devarch_stack_last_reconcile_timestamp_seconds",
	"devarch_workqueue_depth",
}

// TestExposition checks what a running serve exports (with one stack
// reconciled, so the per-stack families have series) against the pinned
// families, the metric lint, promtool, the Grafana dashboard and the
// alerting rules.
func TestExposition(t *testing.T) {
	r := startRun(t)
	r.waitMetric(t, `devarch_stack_condition{condition="InSync",stack="`+r.stack+`"} 1`)
	t.Run("families", func(t *testing.T) {
		mfs, err := r.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "devarch_") {
				got = append(got, mf.GetName())
			}
		}
		if !slices.Equal(got, allFamilies) {
			t.Errorf("families = %v\nwant %v", got, allFamilies)
		}
	})
	// The same checks as `promtool check metrics`, in-process.
	t.Run("lint", func(t *testing.T) {
		problems, err := testutil.GatherAndLint(r.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	})
	t.Run("promtool check metrics", func(t *testing.T) { checkPromtoolMetrics(t, r.reg) })
	t.Run("dashboard uses exported metrics", func(t *testing.T) { checkDashboardUsesExportedMetrics(t, r.reg) })
	t.Run("alerts use exported metrics", func(t *testing.T) { checkAlertsUseExportedMetrics(t, r.reg) })
}
