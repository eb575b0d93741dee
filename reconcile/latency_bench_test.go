package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// benchLoop is a running controller over one stack of n instances, for
// latency benchmarks.
type benchLoop struct {
	b      *testing.B
	store  *state.Store
	docker *client.Client
	ctrl   *reconcile.Controller
	stack  spec.Stack
	starts chan int64 // approval ids as their apply starts
	paths  project.Options
}

// recordingApplier reports every apply start.
type recordingApplier struct {
	reconcile.Applier
	starts chan<- int64
	mu     sync.Mutex
	cur    int64
}

func (r *recordingApplier) Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, p deploy.ProgressFunc) (deploy.Result, error) {
	select {
	case r.starts <- s.ID:
	default:
	}
	return r.Applier.Apply(ctx, s, o, p)
}

func newBenchLoop(b *testing.B, n int) *benchLoop {
	b.Helper()
	ctx := context.Background()
	docker := testenv.Docker(b)
	url := testenv.DatabaseURL(b)
	dir := b.TempDir()
	if err := state.Migrate(ctx, url, state.WithInitialPaths(project.Options{StateDir: filepath.Join(dir, "state"), WorkspaceDir: filepath.Join(dir, "ws")})); err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(ctx, url, "latency-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	paths, err := store.Installation(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := spec.Template{Name: "bench-sleeper", Category: "bench", Spec: spec.ServiceSpec{Image: testenv.TestImage, Restart: "unless-stopped"}}
	if _, err := store.UpsertTemplate(ctx, tmpl, "bench"); err != nil {
		b.Fatal(err)
	}
	s := spec.Stack{Name: testenv.UniqueName("lat"), Enabled: true}
	for i := 0; i < n; i++ {
		s.Instances = append(s.Instances, spec.Instance{Name: fmt.Sprintf("svc-%d", i), Enabled: true, Template: &spec.Template{Name: tmpl.Name}})
	}
	res, err := store.ImportStack(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	if s, err = store.StackByID(ctx, res.StackID); err != nil {
		b.Fatal(err)
	}
	rt, err := deploy.NewRuntime("", nil)
	if err != nil {
		b.Fatal(err)
	}
	starts := make(chan int64, 16)
	l := &benchLoop{b: b, store: store, docker: docker, stack: s, starts: starts, paths: paths}
	obs := rt.NewObserver()
	l.ctrl = reconcile.New(reconcile.Deps{
		Planner: planner.New(store, obs, planner.Options{}), Statuses: store, Approvals: store, Events: store, Sweeper: store, Counter: store,
		Notifier: store, Observer: obs, Applier: &recordingApplier{Applier: rt, starts: starts},
		Runtime: rt, Locker: lock.New(store.Pool(), nil),
	}, reconcile.Options{ReplicaID: "bench", Resync: time.Hour, Workers: 2})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = l.ctrl.Run(runCtx); close(done) }()
	b.Cleanup(func() {
		cancel()
		<-done
		down := l.stack
		down.Enabled = false
		_, _ = rt.Apply(context.Background(), down, deploy.ApplyOptions{Paths: l.paths}, nil)
		_ = rt.RemoveNetwork(context.Background(), down.Network())
		_ = rt.Close()
	})
	if a := l.approve(); a.Status != approval.Succeeded {
		b.Fatalf("first apply: %s: %s", a.Status, a.Message)
	}
	l.waitCondition(reconcile.InSync, 30*time.Second)
	return l
}

// approve files an approval with the stack's current token and waits
// until it is final.
func (l *benchLoop) approve() approval.Approval {
	a := l.file()
	return l.waitFinal(a.ID)
}

func (l *benchLoop) file() approval.Approval {
	body, _ := json.Marshal(map[string]any{"format_version": 1})
	a, err := l.store.CreateApproval(context.Background(), l.stack.ID, plan.Token(plan.Desired{Stack: l.stack, Paths: l.paths}), body, "bench", time.Minute)
	if err != nil {
		l.b.Fatal(err)
	}
	return a
}

func (l *benchLoop) waitFinal(id int64) approval.Approval {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		a, err := l.store.Approval(context.Background(), id)
		if err != nil {
			l.b.Fatal(err)
		}
		if a.Status.Final() {
			return a
		}
		time.Sleep(2 * time.Millisecond)
	}
	l.b.Fatalf("approval %d did not finish", id)
	return approval.Approval{}
}

func (l *benchLoop) waitCondition(cond string, timeout time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < timeout {
		if st, ok := l.ctrl.Statuses()[l.stack.ID]; ok && st.Condition == cond {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	l.b.Fatalf("stack did not become %s within %v", cond, timeout)
	return 0
}

// report adds p50 and p99 of samples (milliseconds) to the benchmark.
func report(b *testing.B, what string, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		i := int(p*float64(len(samples)-1) + 0.5)
		return float64(samples[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), what+"-p50-ms")
	b.ReportMetric(pct(0.99), what+"-p99-ms")
	b.ReportMetric(float64(len(samples)), "samples")
}

// BenchmarkApprovalToApplyStart measures the time from inserting an
// approval row to the start of its apply (NOTIFY → queue → claim → lock →
// token check → Apply), on a converged one-instance stack.
func BenchmarkApprovalToApplyStart(b *testing.B) {
	l := newBenchLoop(b, 1)
	var samples []time.Duration
	for b.Loop() {
		for len(l.starts) > 0 {
			<-l.starts
		}
		start := time.Now()
		a := l.file()
		select {
		case <-l.starts:
			samples = append(samples, time.Since(start))
		case <-time.After(30 * time.Second):
			b.Fatal("apply did not start")
		}
		l.waitFinal(a.ID)
	}
	report(b, "approval-to-apply-start", samples)
}

// BenchmarkNoOpApply measures approval to succeeded for a converged
// 10-service stack: claim, lock, token, network, configs, compose up
// (nothing to do), finish.
func BenchmarkNoOpApply(b *testing.B) {
	l := newBenchLoop(b, 10)
	var samples []time.Duration
	for b.Loop() {
		start := time.Now()
		a := l.approve()
		if a.Status != approval.Succeeded {
			b.Fatalf("approval %s: %s", a.Status, a.Message)
		}
		samples = append(samples, time.Since(start))
	}
	report(b, "noop-apply", samples)
}
