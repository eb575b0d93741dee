package reconcile_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

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

// env is one integration test's world: its own database, the real engine
// and a state directory shared by every controller of the test, recorded
// as the installation's host paths (replicas must agree on where config
// files live: the path is part of what compose hashes). paths also holds
// the installation keys.
type env struct {
	t      *testing.T
	url    string
	store  *state.Store // the test's own connection, for setup and checks
	docker *client.Client
	paths  project.Options
	// host is the engine's address for the controllers the test starts
	// ("": DOCKER_HOST or the default socket).
	host string
	// storeOpts are given to every store the test opens (its own and
	// each replica's).
	storeOpts []state.Option
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, testenv.Engine{Name: testenv.EngineDocker})
}

// newEnvOn is newEnv on engine en (see testenv.Engines).
func newEnvOn(t *testing.T, en testenv.Engine, storeOpts ...state.Option) *env {
	t.Helper()
	docker := en.Client(t)
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "state")
	paths := project.Options{StateDir: dir, WorkspaceDir: filepath.Join(dir, "workspace")}
	if err := state.Migrate(ctx, url, state.WithInitialPaths(paths)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	uniqueIDs(t, ctx, url)
	store, err := state.Open(ctx, url, "reconcile-test", storeOpts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(store.Close)
	installed, err := store.Installation(ctx)
	if err != nil {
		t.Fatalf("read installation: %v", err)
	}
	return &env{t: t, url: url, store: store, docker: docker, paths: installed, host: en.Host, storeOpts: storeOpts}
}

// token is the staleness token of s in the test's installation.
func (e *env) token(s spec.Stack) string {
	return plan.Token(plan.Desired{Stack: s, Paths: e.paths})
}

// uniqueIDs starts the database's stack and instance ids at a random
// offset. Every test database starts its ids at 1, containers carry only
// the ids in their labels, and the engine is shared by all the packages'
// tests running at once: without this, two tests' "stack 1" would see (and
// apply would remove, as strays) each other's containers.
func uniqueIDs(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := 1_000_000 + int64(binary.BigEndian.Uint32(b[:])%3_000_000_000) // below lock.MaxStackID
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT setval('stacks_id_seq', $1), setval('instances_id_seq', $1)`, base); err != nil {
		t.Fatalf("move id sequences: %v", err)
	}
}

// smallInstance runs the test image; withConfig adds a config file.
func smallInstance(name string, withConfig bool) spec.Instance {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: testenv.TestImage,
		Env: []spec.EnvVar{{Key: "MODE", Value: "test"}, {Key: "APP_PASSWORD", Value: "s3cret-canary"}}}}
	if withConfig {
		o.ConfigFiles = []spec.ConfigFile{{Path: name + "/app.conf", Target: "/etc/app.conf", Content: "level=info\n"}}
	}
	return spec.Instance{Name: name, Enabled: true, Overrides: o}
}

// slowHealthInterval is how long compose up of slowInstances takes at
// least: "app" starts only once "db" is healthy, and the engine runs the
// first healthcheck one interval after the start.
const slowHealthInterval = 4 * time.Second

// slowInstances make compose up take about slowHealthInterval.
func slowInstances() []spec.Instance {
	db := smallInstance("db", true)
	db.Overrides.Healthcheck = &spec.Healthcheck{Test: []string{"CMD-SHELL", "exit 0"},
		Interval: spec.Duration(slowHealthInterval), Timeout: spec.Duration(2 * time.Second), Retries: 3}
	app := smallInstance("app", false)
	app.Overrides.DependsOn = []spec.Dependency{{Name: "db", Condition: "service_healthy"}}
	return []spec.Instance{db, app}
}

// createStack imports a stack and removes its containers, network and
// volumes when the test ends.
func (e *env) createStack(prefix string, instances ...spec.Instance) spec.Stack {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	name := testenv.UniqueName(prefix)
	res, err := e.store.ImportStack(ctx, spec.Stack{Name: name, Enabled: true, Instances: instances})
	if err != nil {
		e.t.Fatalf("import stack %s: %v", name, err)
	}
	s, err := e.store.StackByID(ctx, res.StackID)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.removeStack(s) })
	return s
}

// removeStack deletes everything the engine holds for stack s.
func (e *env) removeStack(s spec.Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	label := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10))
	list, err := e.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
	if err != nil {
		e.t.Logf("clean up stack %s: %v", s.Name, err)
		return
	}
	for _, c := range list.Items {
		if _, err := e.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			e.t.Logf("remove container %s: %v", c.ID, err)
		}
	}
	if _, err := e.docker.NetworkRemove(ctx, s.Network(), client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
		e.t.Logf("remove network %s: %v", s.Network(), err)
	}
	vols, err := e.docker.VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err == nil {
		for _, v := range vols.Items {
			_, _ = e.docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
	}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// file files an approval of stack s with token (the stack's current token
// when token is ""). It may run on any goroutine: it reports failures
// with Errorf.
func (e *env) file(ctx context.Context, s spec.Stack, token string) approval.Approval {
	e.t.Helper()
	if token == "" {
		cur, err := e.store.StackByID(ctx, s.ID)
		if err != nil {
			e.t.Errorf("read stack %s: %v", s.Name, err)
			return approval.Approval{}
		}
		token = e.token(cur)
	}
	a, err := e.store.CreateApproval(ctx, s.ID, token, json.RawMessage(`{"changes":[]}`), "reconcile-test", time.Hour)
	if err != nil {
		e.t.Errorf("file approval of %s: %v", s.Name, err)
	}
	return a
}

// recoverAfterKill starts a controller (replica) after the one applying
// approval a of stack s was killed: the approval ends interrupted, saying
// the controller was lost; the stack's lock is free and its status leaves
// Applying as Drifted (half-applied); a new approval converges it (InSync,
// lock free). It returns how long after the start the approval ended.
func (e *env) recoverAfterKill(replica string, s spec.Stack, a approval.Approval) time.Duration {
	e.t.Helper()
	start := time.Now()
	e.startReplica(replica, reconcile.Options{Resync: 2 * time.Second}, nil)
	got := e.waitApproval(a.ID, 20*time.Second, "final", final)
	took := time.Since(start)
	if got.Status != approval.Interrupted || !strings.Contains(got.Message, "was lost during the apply") {
		e.t.Fatalf("killed approval: %s %q, want interrupted saying the controller stopped", got.Status, got.Message)
	}
	e.lockFree(s.ID)
	if st := e.waitStatus(s.ID, 20*time.Second, "not Applying", func(st state.StackStatus) bool {
		return st.Condition != reconcile.Applying
	}); st.Condition != reconcile.Drifted {
		e.t.Errorf("half-applied stack is %s (%s), want Drifted", st.Condition, st.Message)
	}
	next := e.file(e.t.Context(), s, "")
	if got := e.waitApproval(next.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
		e.t.Fatalf("new approval after the kill: %s %q", got.Status, got.Message)
	}
	e.waitStatus(s.ID, 20*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
	e.lockFree(s.ID)
	return took
}

// waitApproval polls approval id until done(a) or the timeout.
func (e *env) waitApproval(id int64, timeout time.Duration, what string, done func(approval.Approval) bool) approval.Approval {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		a, err := e.store.Approval(e.t.Context(), id)
		if err == nil && done(a) {
			return a
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("approval %d: not %s within %v (last: %+v, err %v)", id, what, timeout, a, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func final(a approval.Approval) bool { return a.Status.Final() }

// waitStatus polls the stored status of stack id until done or the
// timeout and returns it.
func (e *env) waitStatus(id int64, timeout time.Duration, what string, done func(state.StackStatus) bool) state.StackStatus {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		all, err := e.store.StackStatuses(e.t.Context())
		st, ok := all[id]
		if err == nil && ok && done(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("stack %d: status not %s within %v (last: %+v, err %v)", id, what, timeout, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockFree fails the test unless nobody holds stack id's lock.
func (e *env) lockFree(id int64) {
	e.t.Helper()
	locker := lock.New(e.store.Pool(), nil)
	holders, err := locker.Holders(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range holders {
		if h.StackID == id {
			e.t.Fatalf("stack %d's lock is still held: %+v", id, h)
		}
	}
	lease, err := locker.TryLock(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("take stack %d's lock: %v", id, err)
	}
	if err := lease.Unlock(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// replica is one controller with its own pool, locker and engine client,
// running until the test ends (or stop).
type replica struct {
	id    string
	ctrl  *reconcile.Controller
	store *state.Store
	rt    *deploy.Runtime
	logs  *observer.ObservedLogs

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startReplica wires a controller like serve does; wrap may replace
// dependencies (to count calls) before it starts.
func (e *env) startReplica(id string, o reconcile.Options, wrap func(*reconcile.Deps)) *replica {
	e.t.Helper()
	return e.startReplicaAt(e.url, id, o, wrap)
}

// startReplicaAt is startReplica with the controller's database reached
// at url (a proxy in front of the test's database, say).
func (e *env) startReplicaAt(url, id string, o reconcile.Options, wrap func(*reconcile.Deps)) *replica {
	e.t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(e.t, zaptest.Level(zapcore.InfoLevel)).Core(), core)).With(zap.String("replica", id))
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	store, err := state.Open(ctx, url, "devarch-controller "+id, append([]state.Option{state.WithLogger(log)}, e.storeOpts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	rt, err := deploy.NewRuntime(e.host, log)
	if err != nil {
		e.t.Fatal(err)
	}
	obs := rt.NewObserver()
	d := reconcile.Deps{Planner: planner.New(store, obs, planner.Options{}), Statuses: store, Approvals: store, Events: store, Sweeper: store, Counter: store,
		Notifier: store, Observer: obs, Applier: rt, Runtime: rt, Locker: lock.New(store.Pool(), log), Lifecycle: store}
	if wrap != nil {
		wrap(&d)
	}
	o.ReplicaID, o.PullPolicy, o.Logger = id, "never", log
	r := &replica{id: id, ctrl: reconcile.New(d, o), store: store, rt: rt, logs: logs, done: make(chan error, 1)}
	runCtx, runCancel := context.WithCancel(context.Background())
	r.cancel = runCancel
	go func() { r.done <- r.ctrl.Run(runCtx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

// stop cancels the controller, waits for Run and closes its connections.
func (r *replica) stop(t *testing.T) error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(45 * time.Second):
			r.err = fmt.Errorf("replica %s: Run did not return 45 s after its context ended", r.id)
			t.Error(r.err)
			return
		}
		r.store.Close()
		_ = r.rt.Close()
	})
	return r.err
}

// running reports whether Run has not returned.
func (r *replica) running() bool {
	select {
	case err := <-r.done:
		r.done <- err
		return false
	default:
		return true
	}
}

// waitRunning waits until stack s's instance container runs: compose up
// is then under way (with slowInstances, "app" waits for "db" to become
// healthy).
func (e *env) waitRunning(s spec.Stack, instance string, timeout time.Duration) {
	e.t.Helper()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10)).
		Add("label", spec.LabelInstance+"="+instance).Add("status", "running")
	deadline := time.Now().Add(timeout)
	for {
		list, err := e.docker.ContainerList(e.t.Context(), client.ContainerListOptions{Filters: f})
		if err == nil && len(list.Items) > 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container of %s/%s not running within %v (err %v)", s.Name, instance, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// privateSubnetPool is a /16 of 10.100.0.0–10.189.0.0 picked at random:
// stacks of a test that creates many networks at once get their subnets
// from it instead of the engine's default pools, which hold about 30
// networks for every test running on the shared engine.
func privateSubnetPool(t *testing.T) state.Option {
	t.Helper()
	var b [1]byte
	_, _ = rand.Read(b[:])
	pool, problems := spec.ParseSubnetPool(fmt.Sprintf("10.%d.0.0/16", 100+int(b[0])%90), 24)
	if len(problems) > 0 {
		t.Fatalf("test subnet pool: %v", problems)
	}
	return state.WithSubnetPool(pool)
}
