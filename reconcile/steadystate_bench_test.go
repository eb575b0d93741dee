package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

type queryCount struct{ n atomic.Int64 }

func (q *queryCount) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *queryCount) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BenchmarkSteadyStatePass measures one full pass of the loop over
// DEVARCH_BENCH_STACKS stacks (default 200) of 5 instances each, whose
// containers exist (created, not started) on the real engine, next to
// DEVARCH_BENCH_FOREIGN (default 0) foreign labelled containers (another
// installation's): wall time, SQL queries and Docker API calls per pass,
// and the pass's time over one bare list of the engine's labelled
// containers. Then it starts a real `devarch-controller serve` on the same
// database and containers and reports the time to its first full pass and
// to /readyz, its peak resident memory (VmHWM) after that pass, after
// DEVARCH_BENCH_EVENTS (default 0) engine events (renames of the stacks'
// containers) and after a soak of DEVARCH_BENCH_SOAK (a Go duration,
// default none) of such events, with its VmRSS at the soak's start and end
// (see measureServe).
func BenchmarkSteadyStatePass(b *testing.B) {
	n := envCount(b, "DEVARCH_BENCH_STACKS", 200)
	foreign := envCount(b, "DEVARCH_BENCH_FOREIGN", 0)
	events := envCount(b, "DEVARCH_BENCH_EVENTS", 0)
	var soak time.Duration
	if v := os.Getenv("DEVARCH_BENCH_SOAK"); v != "" {
		var err error
		if soak, err = time.ParseDuration(v); err != nil {
			b.Fatalf("DEVARCH_BENCH_SOAK=%q: %v (want a Go duration such as 60s or 1h)", v, err)
		}
	}
	ctx := context.Background()
	url := testenv.DatabaseURL(b)
	cli := testenv.Docker(b)
	if foreign > 0 {
		fids := createForeignContainers(b, cli, foreign)
		b.Cleanup(func() { removeContainers(cli, fids) })
	}
	if err := state.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	testenv.UniqueIDs(b, url)
	var queries queryCount
	store, err := state.Open(ctx, url, "bench", state.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.Tracer = &queries }))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	tmpl := spec.Template{Name: "bench-sleeper", Category: "bench", Spec: spec.ServiceSpec{
		Image: testenv.TestImage, Env: []spec.EnvVar{{Key: "MODE", Value: "bench"}}, Restart: "unless-stopped",
	}}
	if _, err := store.UpsertTemplate(ctx, tmpl, "bench-digest"); err != nil {
		b.Fatal(err)
	}
	prefix := testenv.UniqueName("b")
	for i := 0; i < n; i++ {
		s := spec.Stack{Name: fmt.Sprintf("%s-%d", prefix, i), Enabled: true}
		for j := 0; j < 5; j++ {
			s.Instances = append(s.Instances, spec.Instance{Name: fmt.Sprintf("svc-%d", j), Enabled: true,
				Template: &spec.Template{Name: tmpl.Name}, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
					Env: []spec.EnvVar{{Key: "INDEX", Value: strconv.Itoa(j)}}}}})
		}
		if _, err := store.ImportStack(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	stacks, err := store.Stacks(ctx)
	if err != nil {
		b.Fatal(err)
	}
	stateDir := b.TempDir()
	// serve's layout (the workspace is state_dir/workspace): the serve
	// started below records the same paths.
	if _, _, err := store.RecordPaths(ctx, project.Options{StateDir: stateDir, WorkspaceDir: filepath.Join(stateDir, "workspace")}, "bench"); err != nil {
		b.Fatal(err)
	}
	paths, err := store.Installation(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ids := createContainers(b, cli, stacks, paths)
	b.Cleanup(func() { removeContainers(cli, ids) })

	rt, err := deploy.NewRuntime("", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	obs := rt.NewObserver()
	ctrl := reconcile.New(reconcile.Deps{
		Planner: planner.New(store, obs, planner.Options{}), Statuses: store, Approvals: store, Events: store, Sweeper: store, Counter: store,
		Notifier: store, Observer: obs, Applier: rt, Runtime: rt, Locker: lock.New(store.Pool(), nil),
	}, reconcile.Options{ReplicaID: "bench"})
	ctrl.Resync(ctx) // the first pass inspects every container and writes every status
	if got := len(ctrl.Statuses()); got != n {
		b.Fatalf("first pass planned %d stacks, want %d", got, n)
	}
	q0, c0 := queries.n.Load(), rt.Calls()
	b.ResetTimer()
	passes := 0
	for b.Loop() {
		ctrl.Resync(ctx)
		passes++
	}
	b.StopTimer()
	passMS := float64(b.Elapsed().Microseconds()) / 1000 / float64(passes)
	calls := rt.Calls().Sub(c0)
	b.ReportMetric(float64(queries.n.Load()-q0)/float64(passes), "queries/pass")
	b.ReportMetric(float64(calls.ContainerLists)/float64(passes), "container-lists/pass")
	b.ReportMetric(float64(calls.ContainerInspects)/float64(passes), "inspects/pass")
	b.ReportMetric(float64(calls.Total())/float64(passes), "docker-calls/pass")
	b.ReportMetric(float64(n), "stacks")

	// Where a pass's time goes: the engine's container list and the
	// desired-state read, timed on their own.
	t0 := time.Now()
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", spec.LabelManagedBy+"="+spec.ManagedByValue)}); err != nil {
		b.Fatal(err)
	}
	listMS := float64(time.Since(t0).Microseconds()) / 1000
	b.ReportMetric(listMS, "engine-list-ms")
	b.ReportMetric(passMS/listMS, "pass-per-list")
	b.ReportMetric(float64(foreign), "foreign-containers")
	t0 = time.Now()
	if _, err := store.Stacks(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "desired-read-ms")

	// The memory of the real daemon, after its first pass over the same
	// stacks and containers.
	m := measureServe(b, url, stateDir, n, serveLoad{ids: ids, events: events, soak: soak})
	b.ReportMetric(m.hwmMB, "serve-vmhwm-MB")
	b.ReportMetric(m.rssMB, "serve-rss-MB")
	b.ReportMetric(m.firstPass.Seconds(), "serve-first-pass-s")
	b.ReportMetric(m.ready.Seconds(), "serve-ready-s")
	if m.events > 0 {
		b.ReportMetric(float64(m.events), "serve-events")
		b.ReportMetric(m.eventsHWM, "serve-events-vmhwm-MB")
		b.ReportMetric(m.eventsRSS, "serve-events-rss-MB")
	}
	if len(m.soakRSS) > 0 {
		b.ReportMetric(m.soak.Seconds(), "soak-s")
		b.ReportMetric(m.soakRSS[0], "soak-rss-start-MB")
		b.ReportMetric(m.soakRSS[len(m.soakRSS)-1], "soak-rss-end-MB")
		b.ReportMetric(slices.Max(m.soakRSS), "soak-rss-max-MB")
		b.ReportMetric(m.soakHWM, "soak-vmhwm-MB")
	}
}

// envCount reads a non-negative count from the environment variable name
// (def when unset).
func envCount(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a count (0 or more)", name, v)
	}
	return n
}

// createContainers creates (without starting) every instance's container
// with the labels compose would give it.
func createContainers(b *testing.B, cli *client.Client, stacks []spec.Stack, paths project.Options) []string {
	var jobs []createJob
	for _, s := range stacks {
		p, err := project.Build(s, paths)
		if err != nil {
			b.Fatal(err)
		}
		for _, svc := range p.Services {
			hash, _ := project.ServiceHash(svc)
			labels := map[string]string{api.ConfigHashLabel: hash}
			for k, v := range svc.Labels {
				labels[k] = v
			}
			for k, v := range svc.CustomLabels {
				labels[k] = v
			}
			var env []string
			for k, v := range svc.Environment {
				env = append(env, k+"="+*v)
			}
			jobs = append(jobs, createJob{svc.ContainerName, labels, env})
		}
	}
	return createAll(b, cli, jobs)
}

// createJob is one container createAll creates.
type createJob struct {
	name   string
	labels map[string]string
	env    []string
}

// createAll creates (without starting) the containers of jobs of the test
// image, eight at a time, and returns their ids. When one fails, those
// created are removed and the benchmark fails.
func createAll(b *testing.B, cli *client.Client, jobs []createJob) []string {
	b.Helper()
	ids := make([]string, len(jobs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := cli.ContainerCreate(context.Background(), client.ContainerCreateOptions{
				Name: j.name, Config: &container.Config{Image: testenv.TestImage, Labels: j.labels, Env: j.env}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			ids[i] = res.ID
		}()
	}
	wg.Wait()
	if firstErr != nil {
		removeContainers(cli, ids)
		b.Fatalf("create containers: %v", firstErr)
	}
	return ids
}

func removeContainers(cli *client.Client, ids []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		if id == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, _ = cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
		}()
	}
	wg.Wait()
}

// createForeignContainers creates (without starting) n containers that
// carry devarch labels of stacks no test database holds: another
// installation's 5-container stacks (stack ids from 1,500,000,000 on,
// away from testenv.UniqueIDs' ranges). It returns their ids.
func createForeignContainers(b *testing.B, cli *client.Client, n int) []string {
	b.Helper()
	prefix := testenv.UniqueName("foreign")
	jobs := make([]createJob, n)
	for i := range jobs {
		stack := spec.Stack{ID: int64(1_500_000_000 + i/5), Name: fmt.Sprintf("%s-%d", prefix, i/5)}
		inst := spec.Instance{ID: int64(i%5 + 1), Name: fmt.Sprintf("svc-%d", i%5)}
		jobs[i] = createJob{fmt.Sprintf("%s-%d", prefix, i), spec.IdentityLabels(stack, inst), []string{"MODE=foreign"}}
	}
	return createAll(b, cli, jobs)
}
