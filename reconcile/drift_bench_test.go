package reconcile_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// driftBench is a real `devarch-controller serve` process (built from this
// checkout, resync at 10 min) over one converged one-instance stack, and
// the clocks a user would read: the stack's row in stack_status and
// devarch_stack_drifted on /metrics.
type driftBench struct {
	b     *testing.B
	store *state.Store
	// host is the engine's address ("": DOCKER_HOST or the default
	// socket), docker its client.
	host    string
	docker  *client.Client
	stack   spec.Stack
	metrics string // URL of /metrics
	http    *http.Client
}

func newDriftBench(b *testing.B) *driftBench {
	b.Helper()
	return newDriftBenchOn(b, "", testenv.Docker(b))
}

// newDriftBenchOn is newDriftBench on the engine at host (its client
// docker), which serve is given as its docker_host.
func newDriftBenchOn(b *testing.B, host string, docker *client.Client) *driftBench {
	b.Helper()
	ctx := context.Background()
	url := testenv.DatabaseURL(b)
	if err := state.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(ctx, url, "drift-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	s := spec.Stack{Name: testenv.UniqueName("drift"), Enabled: true, Instances: []spec.Instance{{
		Name: "web", Enabled: true, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: testenv.TestImage}},
	}}}
	res, err := store.ImportStack(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	if s, err = store.StackByID(ctx, res.StackID); err != nil {
		b.Fatal(err)
	}
	d := &driftBench{b: b, store: store, host: host, docker: docker, stack: s, http: &http.Client{Timeout: 5 * time.Second}}
	b.Cleanup(func() { removeStackResources(docker, s) })

	dir := b.TempDir()
	bin := filepath.Join(dir, "devarch-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/controller")
	build.Dir = moduleRootOf(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(b)
	d.metrics = "http://" + addr + "/metrics"
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--pull-policy", "never")
	cmd.Env = append(os.Environ(), "DEVARCH_DATABASE_URL="+url, "DEVARCH_STATE_DIR="+filepath.Join(dir, "state"),
		"DEVARCH_HTTP_ADDR="+addr, "DEVARCH_RESYNC_INTERVAL=10m", "DEVARCH_LOG_LEVEL=warn")
	if host != "" {
		cmd.Env = append(cmd.Env, "DEVARCH_DOCKER_HOST="+host)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	// serve records its host paths at start, and they are part of the
	// token: read the installation once it is ready.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		res, err := d.http.Get("http://" + addr + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve not ready within 2 min (last error %v)", err)
		}
	}
	in, err := store.Installation(ctx)
	if err != nil {
		b.Fatal(err)
	}
	a, err := store.CreateApproval(ctx, s.ID, plan.Token(plan.Desired{Stack: s, Paths: in}), []byte(`{}`), "bench", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		got, err := store.Approval(ctx, a.ID)
		if err == nil && got.Status.Final() {
			if got.Status != approval.Succeeded {
				b.Fatalf("first apply: %s %q", got.Status, got.Message)
			}
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("first apply did not finish within 2 min")
		}
	}
	d.waitBoth(false, time.Minute)
	return d
}

// rowDrifted reads the stack's stored condition.
func (d *driftBench) rowDrifted() bool {
	var cond string
	err := d.store.Pool().QueryRow(context.Background(), `SELECT condition FROM stack_status WHERE stack_id = $1`, d.stack.ID).Scan(&cond)
	return err == nil && cond == "Drifted"
}

// metricDrifted reads devarch_stack_drifted of the stack from /metrics.
func (d *driftBench) metricDrifted() bool {
	res, err := d.http.Get(d.metrics)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	want := fmt.Sprintf(`devarch_stack_drifted{engine="default",stack=%q} 1`, d.stack.Name)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), want) {
			return true
		}
	}
	return false
}

// waitBoth waits until both the row and the metric say drifted (or both
// say in sync) and returns how long each took from start. The row is
// polled every 2 ms, /metrics every 10 ms (rendering /metrics costs the
// serve process CPU; polling it faster slows what is measured): each
// figure is late by at most its polling interval.
func (d *driftBench) waitBoth(drifted bool, timeout time.Duration) (row, metric time.Duration) {
	start := time.Now()
	rowDone, metricDone := make(chan time.Duration, 1), make(chan time.Duration, 1)
	poll := func(check func() bool, done chan<- time.Duration, every time.Duration) {
		for time.Since(start) < timeout {
			if check() == drifted {
				done <- time.Since(start)
				return
			}
			time.Sleep(every)
		}
		done <- -1
	}
	go poll(d.rowDrifted, rowDone, 2*time.Millisecond)
	go poll(d.metricDrifted, metricDone, 10*time.Millisecond)
	row, metric = <-rowDone, <-metricDone
	if row < 0 || metric < 0 {
		d.b.Fatalf("stack not drifted=%v within %v (row %v, metric %v)", drifted, timeout, row >= 0, metric >= 0)
	}
	return row, metric
}

// BenchmarkDriftSeen measures, from the moment a `docker kill` or a
// `docker stop` request is sent, how long until the user sees the stack
// drifted: (a) its row in stack_status says Drifted, (b) /metrics says
// devarch_stack_drifted 1; and, sample by sample, from the engine's die
// event to the row (the controller's own part). A real serve process with the resync at 10 min
// (only the engine's events can drive it); each iteration kills the
// container, starts it again and waits until both say in sync, then stops
// it the same way.
func BenchmarkDriftSeen(b *testing.B) {
	runDriftSeen(b, newDriftBench(b))
}

// BenchmarkDriftSeenAmongForeign is BenchmarkDriftSeen with
// DEVARCH_BENCH_FOREIGN (default 5,000) foreign labelled containers on the
// engine, created (not started) before serve starts and removed after:
// 1,000 stacks of another installation, 5 containers each. An event's work
// is the stack's alone, so the figures are those of an empty engine.
func BenchmarkDriftSeenAmongForeign(b *testing.B) {
	n := envCount(b, "DEVARCH_BENCH_FOREIGN", 5000)
	cli := testenv.Docker(b)
	ids := createForeignContainers(b, cli, n)
	b.Cleanup(func() { removeContainers(cli, ids) })
	runDriftSeen(b, newDriftBench(b))
	// After the loop: b.Loop's timer reset drops metrics reported before.
	b.ReportMetric(float64(n), "foreign-containers")
}

// BenchmarkDriftSeenPodman is BenchmarkDriftSeen on the test Podman of
// DEVARCH_TEST_ENGINES: serve watches Podman's Docker-compatible API, and
// the kill and the stop are sent to it.
func BenchmarkDriftSeenPodman(b *testing.B) {
	for _, e := range testenv.Engines(b) {
		if e.Podman() {
			runDriftSeen(b, newDriftBenchOn(b, e.Host, e.Client(b)))
			return
		}
	}
	testenv.Skipf(b, "%s lists no Podman (scripts/podman.sh host prints its socket: %s=docker,podman=unix://…)", testenv.EnvEngines, testenv.EnvEngines)
}

func runDriftSeen(b *testing.B, d *driftBench) {
	name := spec.ContainerName(d.stack.Name, "web")
	ctx := context.Background()
	// The engine's own part: from the request to its "die" event, read
	// from an event stream of the benchmark's own.
	rt, err := deploy.NewRuntime(d.host, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, _ := rt.Events(evCtx)
	var killRow, killMetric, killEvent, stopRow, stopMetric, stopEvent []time.Duration
	// The controller's own part, sample by sample: from the engine's die
	// event (as the benchmark's stream receives it) to the row.
	var killEventRow, stopEventRow []time.Duration
	measure := func(request func() error, eventTimes *[]time.Duration) (time.Duration, time.Duration) {
		for len(events) > 0 {
			<-events
		}
		errs := make(chan error, 1)
		died := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			for ev := range events {
				// A die stamped before the request is an earlier one's
				// (Podman sends more than one event per stop, late).
				if ev.StackID == d.stack.ID && ev.Action == "die" && !ev.Time.Before(start) {
					died <- time.Since(start)
					return
				}
			}
		}()
		// The clock starts as the request is sent: waitBoth's start.
		go func() { errs <- request() }()
		row, metric := d.waitBoth(true, 30*time.Second)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		select {
		case e := <-died:
			*eventTimes = append(*eventTimes, e)
		case <-time.After(10 * time.Second):
			b.Fatal("no die event within 10 s")
		}
		b.StopTimer()
		if _, err := d.docker.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			b.Fatal(err)
		}
		d.waitBoth(false, 30*time.Second)
		b.StartTimer()
		return row, metric
	}
	timeout := 1
	for b.Loop() {
		r, m := measure(func() error {
			_, err := d.docker.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: "KILL"})
			return err
		}, &killEvent)
		killRow, killMetric = append(killRow, r), append(killMetric, m)
		killEventRow = append(killEventRow, r-killEvent[len(killEvent)-1])
		r, m = measure(func() error {
			_, err := d.docker.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &timeout})
			return err
		}, &stopEvent)
		stopRow, stopMetric = append(stopRow, r), append(stopMetric, m)
		stopEventRow = append(stopEventRow, r-stopEvent[len(stopEvent)-1])
	}
	report(b, "kill-to-row", killRow)
	report(b, "kill-to-metric", killMetric)
	report(b, "kill-to-die-event", killEvent)
	report(b, "stop-to-row", stopRow)
	report(b, "stop-to-metric", stopMetric)
	report(b, "stop-to-die-event", stopEvent)
	report(b, "kill-die-event-to-row", killEventRow)
	report(b, "stop-die-event-to-row", stopEventRow)
}

// freeAddr returns a free loopback address.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// moduleRootOf is the directory of go.mod.
func moduleRootOf(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// removeStackResources removes the containers and network of stack s.
func removeStackResources(docker *client.Client, s spec.Stack) {
	ctx := context.Background()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+fmt.Sprint(s.ID))
	if list, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range list.Items {
			_, _ = docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		}
	}
	_, _ = docker.NetworkRemove(ctx, s.Network(), client.NetworkRemoveOptions{})
}
