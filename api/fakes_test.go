package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// canary is the secret the fixtures carry; no response may contain it.
const canary = "canary-7b3f9e1d"

// fixtureStacks returns the stacks of the fake store: "shop" (id 1, a
// templated instance with secrets and one with a spec of its own) and
// "empty" (id 2, no instances).
func fixtureStacks() []spec.Stack {
	pg := &spec.Template{ID: 10, Name: "postgres", Category: "database", Spec: spec.ServiceSpec{
		Image:       "postgres:16",
		Env:         []spec.EnvVar{{Key: "POSTGRES_USER", Value: "app"}},
		Ports:       []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
		Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: spec.Duration(10 * time.Second), Retries: 5},
		Restart:     "unless-stopped",
	}}
	dbOver := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: canary},
			{Key: "REPLICATION_DSN", Value: "postgres://rep:" + canary + "@db/app"},
		},
		Labels:      []spec.Label{{Key: "com.example.role", Value: "db"}},
		ConfigFiles: []spec.ConfigFile{{Path: "init.sql", Target: "/docker-entrypoint-initdb.d/init.sql", Content: "ALTER USER app PASSWORD '" + canary + "';"}},
	}, Domains: []spec.Domain{{Domain: "db.shop.local", ProxyPort: 5432}}}
	webOver := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:     "node:20-alpine",
		Command:   []string{"node", "server.js", "--db-password=" + canary},
		Env:       []spec.EnvVar{{Key: "APP_KEY", Value: canary, Secret: true}, {Key: "NODE_ENV", Value: "development"}},
		DependsOn: []spec.Dependency{{Name: "db", Condition: spec.ConditionHealthy}},
	}}
	shop := spec.Stack{ID: 1, Name: "shop", Description: "The shop.", Enabled: true,
		Wires: []spec.Wire{{ConsumerInstance: "web", ProviderInstance: "db", ImportContract: "postgres"}},
		Instances: []spec.Instance{
			{ID: 11, Name: "db", Enabled: true, Template: pg, Overrides: dbOver, Effective: spec.Merge(&pg.Spec, dbOver)},
			{ID: 12, Name: "web", Enabled: true, Overrides: webOver, Effective: spec.Merge(nil, webOver)},
		}}
	empty := spec.Stack{ID: 2, Name: "empty", NetworkName: "custom-net", Enabled: false, Instances: []spec.Instance{}}
	return []spec.Stack{empty, shop}
}

// fakeStore implements the API's store interfaces in memory. failWith,
// when set, makes every method fail.
type fakeStore struct {
	mu        sync.Mutex
	stacks    []spec.Stack
	statuses  map[int64]state.StackStatus
	approvals map[int64]*approval.Approval
	events    map[int64][]approval.Event
	nextID    int64
	failWith  error
	reads     int // calls of Approval and ApprovalEvents
	lastLimit int // limit of the last Approvals call
	// installation is what Installation returns: host paths and keys.
	installation    project.Options
	installationErr error // Installation fails with it
}

// testInstallation is the fake store's installation; rotated is it after
// a key rotation.
func testInstallation(stateDir string) project.Options {
	return project.Options{StateDir: stateDir, WorkspaceDir: stateDir,
		Keys: keyring.Ring{Current: keyring.Key{ID: 1, Secret: []byte("api-test-installation-key-000001")}}}
}

func (f *fakeStore) Installation(context.Context) (project.Options, error) {
	if err := f.fail(); err != nil {
		return project.Options{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.installation, f.installationErr
}

// rotateKey makes a new current key, as "key rotate" does.
func (f *fakeStore) rotateKey() {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.installation.Keys.Current
	f.installation.Keys = keyring.Ring{Current: keyring.Key{ID: old.ID + 1, Secret: []byte("api-test-installation-key-rotated")},
		Retired: append([]keyring.Key{old}, f.installation.Keys.Retired...)}
}

// token is the staleness token of s in the fake installation.
func (f *fakeStore) token(s spec.Stack) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return plan.Token(plan.Desired{Stack: s, Paths: f.installation})
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		stacks: fixtureStacks(),
		statuses: map[int64]state.StackStatus{1: {StackID: 1, Stack: "shop", Condition: "Drifted", Token: "t0",
			Counts: map[string]int{"add": 2, "modify": 0, "remove": 0}, Message: "Plan: 2 to add, 0 to modify, 0 to remove.",
			LastReconcile: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}},
		approvals: map[int64]*approval.Approval{},
		events:    map[int64][]approval.Event{},
		nextID:    100,
	}
}

func (f *fakeStore) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failWith
}

func (f *fakeStore) Stacks(context.Context) ([]spec.Stack, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.stacks)
	slices.SortFunc(out, func(a, b spec.Stack) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakeStore) Stack(_ context.Context, name string) (spec.Stack, error) {
	if err := f.fail(); err != nil {
		return spec.Stack{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.stacks {
		if s.Name == name {
			return s, nil
		}
	}
	return spec.Stack{}, fmt.Errorf("stack %q %w", name, state.ErrNotFound)
}

func (f *fakeStore) StackStatuses(context.Context) (map[int64]state.StackStatus, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]state.StackStatus{}
	for k, v := range f.statuses {
		out[k] = v
	}
	return out, nil
}

func (f *fakeStore) CreateApproval(_ context.Context, stackID int64, token string, p []byte, by string, ttl time.Duration) (approval.Approval, error) {
	if err := f.fail(); err != nil {
		return approval.Approval{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var name string
	for _, s := range f.stacks {
		if s.ID == stackID {
			name = s.Name
		}
	}
	if name == "" {
		return approval.Approval{}, fmt.Errorf("stack %d: %w", stackID, state.ErrNotFound)
	}
	f.nextID++
	now := time.Now().UTC()
	a := &approval.Approval{ID: f.nextID, StackID: stackID, Stack: name, Token: token, Plan: p, RequestedBy: by,
		Status: approval.Pending, Result: []byte("null"), CreatedAt: now, UpdatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		a.ExpiresAt = &exp
	}
	f.approvals[a.ID] = a
	return *a, nil
}

func (f *fakeStore) Approval(_ context.Context, id int64) (approval.Approval, error) {
	if err := f.fail(); err != nil {
		return approval.Approval{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	a, err := f.approvalLocked(id)
	if err != nil {
		return approval.Approval{}, err
	}
	return *a, nil
}

// approvalLocked returns the approval id (f.mu held), ErrNotFound
// (wrapped) like the store when there is none.
func (f *fakeStore) approvalLocked(id int64) (*approval.Approval, error) {
	a, ok := f.approvals[id]
	if !ok {
		return nil, fmt.Errorf("approval %d: %w", id, state.ErrNotFound)
	}
	return a, nil
}

func (f *fakeStore) Approvals(_ context.Context, stackID int64, limit int) ([]approval.Approval, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastLimit = limit
	var out []approval.Approval
	for _, a := range f.approvals {
		if stackID == 0 || a.StackID == stackID {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b approval.Approval) int { return int(b.ID - a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeStore) CancelApproval(_ context.Context, id int64, message string) (approval.Approval, error) {
	if err := f.fail(); err != nil {
		return approval.Approval{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.approvalLocked(id)
	if err != nil {
		return approval.Approval{}, err
	}
	if a.Status != approval.Pending {
		return *a, fmt.Errorf("approval %d is %s: %w", id, a.Status, state.ErrNotPending)
	}
	now := time.Now().UTC()
	a.Status, a.Message, a.FinishedAt = approval.Cancelled, message, &now
	return *a, nil
}

func (f *fakeStore) ApprovalEvents(_ context.Context, id int64, after int) ([]approval.Event, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []approval.Event
	for _, e := range f.events[id] {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) ActiveApprovalStacks(context.Context) (pending, applying []int64, err error) {
	if err := f.fail(); err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.approvals {
		switch a.Status {
		case approval.Pending:
			pending = append(pending, a.StackID)
		case approval.Applying:
			applying = append(applying, a.StackID)
		}
	}
	return pending, applying, nil
}

// addApproval stores an approval of stack 1 in the given status.
func (f *fakeStore) addApproval(status approval.Status) approval.Approval {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	now := time.Now().UTC()
	a := &approval.Approval{ID: f.nextID, StackID: 1, Stack: "shop", Token: "tok", Plan: []byte(`{"format_version":1,"stack_id":1,"stack":"shop","token":"tok","generated_at":"2026-11-26T12:00:00Z","summary":{"add":0,"modify":0,"remove":0},"changes":[],"warnings":[]}`),
		RequestedBy: "tester", Status: status, Result: []byte("null"), CreatedAt: now, UpdatedAt: now}
	if status != approval.Pending {
		a.StartedAt = &now
	}
	if status.Final() {
		a.FinishedAt = &now
		a.Result = []byte(`{"network_created":true,"config_files":1,"created":["devarch-shop-db"],"recreated":null,"started":null,"restarted":null,"removed":null,"durations":{"compose":1500000}}`)
	}
	f.approvals[a.ID] = a
	return *a
}

// appendEvents appends progress events, numbered after the last one.
func (f *fakeStore) appendEvents(id int64, messages ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range messages {
		seq := len(f.events[id]) + 1
		f.events[id] = append(f.events[id], approval.Event{ApprovalID: id, Seq: seq, At: time.Now().UTC(),
			Container: "devarch-shop-db", Action: "create", Status: "done", Message: m})
	}
}

func (f *fakeStore) setStatus(id int64, status approval.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.approvals[id].Status = status
	if status.Final() {
		now := time.Now().UTC()
		f.approvals[id].FinishedAt = &now
		f.approvals[id].Message = "Applied."
	}
}

func (f *fakeStore) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// fakeLocks returns fixed lock holders.
type fakeLocks struct {
	holders []lock.Holder
	err     error
}

func (l *fakeLocks) Holders(context.Context) ([]lock.Holder, error) { return l.holders, l.err }

// fakeListener hands out notification channels the test feeds through
// notify. Each Listen starts a session whose channel closes when its
// context ends.
type fakeListener struct {
	mu       sync.Mutex
	ch       chan state.Notification
	sessions int
	err      error
	started  chan struct{}
}

func newFakeListener() *fakeListener { return &fakeListener{started: make(chan struct{}, 16)} }

func (l *fakeListener) Listen(ctx context.Context, channels ...string) (<-chan state.Notification, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Equal(channels, []string{state.ChannelApprovals, state.ChannelApprovalEvents}) {
		return nil, fmt.Errorf("unexpected channels %v", channels)
	}
	l.sessions++
	if l.err != nil {
		return nil, l.err
	}
	ch := make(chan state.Notification, 64)
	l.ch = ch
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.ch == ch {
			l.ch = nil
		}
		close(ch)
	}()
	select {
	case l.started <- struct{}{}:
	default:
	}
	return ch, nil
}

// notify delivers a notification to the running session, if any.
func (l *fakeListener) notify(n state.Notification) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch == nil {
		return false
	}
	l.ch <- n
	return true
}

func (l *fakeListener) open() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch != nil
}

// harness is an API over fakes.
type harness struct {
	store    *fakeStore
	locks    *fakeLocks
	listener *fakeListener
	planErr  error
	ready    map[string]error
	h        http.Handler
	edits    *fakeEdits
	// passing: the controller's first pass is still in progress.
	passing atomic.Bool
	// deps and opts are what h was built from (see with).
	deps Deps
	opts Options
}

// with rebuilds the harness's handler with its dependencies changed by
// change.
func (hs *harness) with(change func(*Deps)) {
	change(&hs.deps)
	hs.h = New(hs.deps, hs.opts)
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	return newLoggedHarness(t, opts, nil)
}

// newLoggedHarness is newHarness logging to log.
func newLoggedHarness(t *testing.T, opts Options, log *zap.Logger) *harness {
	t.Helper()
	hs := &harness{store: newFakeStore(), locks: &fakeLocks{}, listener: newFakeListener(), ready: map[string]error{}}
	hs.edits = &fakeEdits{store: hs.store}
	hs.store.installation = testInstallation(t.TempDir())
	planner := func(_ context.Context, d plan.Desired) (*plan.Plan, error) {
		if hs.planErr != nil {
			return nil, hs.planErr
		}
		return plan.Compute(d, plan.Observed{}, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	}
	check := func(name string) Check {
		return Check{Name: name, Fn: func(context.Context) error { return hs.ready[name] }}
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "devarch_up 1\n")
	})
	hs.deps = Deps{Stacks: hs.store, Statuses: hs.store, Approvals: hs.store, Installation: hs.store, Planner: filing.PlannerFunc(planner), Locks: hs.locks,
		Notifications: hs.listener, Ready: []Check{check("database"), check("docker")}, Metrics: metrics, Logger: log, Edits: hs.edits,
		Lifecycle: hs.store, Orphans: fakeOrphans{}, FirstPassDone: func() bool { return !hs.passing.Load() }}
	hs.opts = opts
	hs.h = New(hs.deps, opts)
	return hs
}

// request describes one call; POST requests get Content-Type
// application/json unless headers set one.
type request struct {
	method, path, body string
	headers            map[string]string
}

func (hs *harness) do(t *testing.T, rq request) *httptest.ResponseRecorder {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, rq.path, strings.NewReader(rq.body))
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.headers {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w
}

// emptyPages is a stack pager with no stacks: what a page says besides its
// stacks (first_pass_in_progress) is tested on it.
type emptyPages struct{}

func (emptyPages) StackPage(context.Context, state.StackPageKey, int) ([]state.StackListItem, bool, error) {
	return nil, false, nil
}
