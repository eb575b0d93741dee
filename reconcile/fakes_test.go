package reconcile

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// fakeWorld is a hand-written fake of every Deps interface, for the pure
// loop logic. It records calls; its fields say what the calls return.
type fakeWorld struct {
	mu sync.Mutex

	stacks       map[int64]spec.Stack
	stacksErr    error // Stacks and StackByID fail with it
	snap         deploy.Snapshot
	snapErr      error
	lockErr      error // TryLock fails with it
	applyFn      func(spec.Stack) (deploy.Result, error)
	pending      map[int64][]approval.Approval // claimable approvals by stack, oldest first
	active       []int64                       // ActiveApprovalStacks: stacks with pending approvals
	notes        chan state.Notification       // Listen's channel
	events       chan deploy.Event             // Events' channel
	writeErr     error                         // WriteStackStatuses fails with it
	finished     map[int64]finishCall          // by approval id
	locked       map[int64]int32               // MarkApprovalLocked by approval id
	progress     map[int64][]approval.Event
	applied      []string              // stack names, in Apply order
	appliedWith  []deploy.ApplyOptions // the options of each Apply
	installation *project.Options      // Installation's answer (unitInstallation when nil)
	installErr   error                 // Installation fails with it
	claims       int                   // ClaimApproval calls
	stacksRead   int                   // Stacks calls (one per full pass)
	byIDReads    map[int64]int         // StackByID calls per stack
	byIDTimes    []time.Time           // when StackByID was called
	writes       [][]state.StackStatus // WriteStackStatuses calls
	sweeps       int                   // InterruptOrphanedApprovals calls
	passDone     chan struct{}         // receives after every Stacks call, if not nil
	lockCalls    int
	listenErrs   int // Listen fails this many times first
	streamErrs   int // Events' stream breaks this many times first

	invalidated []string    // HandleEvent calls' container ids, in order
	snapHook    func(n int) // called (outside mu) at the start of the n-th Snapshot, from 1
	snapCalls   int
	finishErrs  int         // FinishApproval fails this many times first
	settled     func(int64) // what OnSettled was given
}

type finishCall struct {
	status  approval.Status
	message string
	result  any
}

func newFakeWorld(stacks ...spec.Stack) *fakeWorld {
	w := &fakeWorld{
		stacks: map[int64]spec.Stack{}, pending: map[int64][]approval.Approval{}, finished: map[int64]finishCall{},
		locked: map[int64]int32{}, progress: map[int64][]approval.Event{}, byIDReads: map[int64]int{},
		snap:  deploy.Snapshot{Containers: map[int64][]spec.Container{}, Networks: map[string]string{}, Images: map[string]string{}},
		notes: make(chan state.Notification, 16), events: make(chan deploy.Event, 16),
	}
	for _, s := range stacks {
		w.stacks[s.ID] = s
	}
	return w
}

// unitInstallation is the fake world's installation: its host paths and
// key.
var unitInstallation = project.Options{StateDir: "/var/lib/devarch-unit", WorkspaceDir: "/var/lib/devarch-unit/ws",
	Keys: keyring.Ring{Current: keyring.Key{ID: 1, Secret: []byte("reconcile-unit-test-key-00000001")}}}

// unitToken is the staleness token of s in the fake world's installation.
func unitToken(s spec.Stack) string { return tokenIn(s, unitInstallation) }

// tokenIn is the staleness token of s in installation in.
func tokenIn(s spec.Stack, in project.Options) string {
	return plan.Token(plan.Desired{Stack: s, Paths: in})
}

func (w *fakeWorld) Installation(context.Context) (project.Options, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stacksErr != nil:
		return project.Options{}, w.stacksErr
	case w.installErr != nil:
		return project.Options{}, w.installErr
	case w.installation != nil:
		return *w.installation, nil
	}
	return unitInstallation, nil
}

func (w *fakeWorld) deps() Deps {
	return Deps{Planner: planner.New(w, w, planner.Options{}), Statuses: w, Approvals: w, Events: w, Sweeper: w, Counter: w, Notifier: w,
		Observer: w, Applier: w, Runtime: w, Locker: w}
}

// file adds a claimable approval of a stack with token.
func (w *fakeWorld) file(id, stackID int64, token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[stackID] = append(w.pending[stackID], approval.Approval{ID: id, StackID: stackID, Stack: w.stacks[stackID].Name,
		Token: token, Status: approval.Pending})
}

func (w *fakeWorld) Stacks(context.Context) ([]spec.Stack, error) {
	w.mu.Lock()
	w.stacksRead++
	out := make([]spec.Stack, 0, len(w.stacks))
	for _, s := range w.stacks {
		out = append(out, s)
	}
	err, done := w.stacksErr, w.passDone
	w.mu.Unlock()
	if done != nil {
		defer func() { done <- struct{}{} }()
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stack finds a stack by name (the loop reads stacks by id only).
func (w *fakeWorld) Stack(_ context.Context, name string) (spec.Stack, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.stacks {
		if s.Name == name {
			return s, nil
		}
	}
	return spec.Stack{}, state.ErrNotFound
}

func (w *fakeWorld) StackByID(_ context.Context, id int64) (spec.Stack, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byIDReads[id]++
	w.byIDTimes = append(w.byIDTimes, time.Now())
	if w.stacksErr != nil {
		return spec.Stack{}, w.stacksErr
	}
	s, ok := w.stacks[id]
	if !ok {
		return spec.Stack{}, state.ErrNotFound
	}
	return s, nil
}

func (w *fakeWorld) WriteStackStatuses(_ context.Context, statuses []state.StackStatus) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]state.StackStatus(nil), statuses...))
	return w.writeErr
}

func (w *fakeWorld) HasPendingApproval(_ context.Context, stackID int64) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending[stackID]) > 0, nil
}

func (w *fakeWorld) ClaimApproval(_ context.Context, stackID int64, replica string) (*approval.Approval, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.claims++
	q := w.pending[stackID]
	if len(q) == 0 {
		return nil, nil
	}
	a := q[0]
	w.pending[stackID] = q[1:]
	a.Status, a.ClaimedBy = approval.Applying, replica
	return &a, nil
}

func (w *fakeWorld) MarkApprovalLocked(_ context.Context, id int64, pid int32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.locked[id] = pid
	return nil
}

func (w *fakeWorld) FinishApproval(_ context.Context, id int64, status approval.Status, message string, result any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finishErrs > 0 {
		w.finishErrs--
		return errors.New("finish approval: connection refused")
	}
	if _, dup := w.finished[id]; dup {
		return errors.New("fake: approval finished twice")
	}
	w.finished[id] = finishCall{status: status, message: message, result: result}
	return nil
}

// FinishApprovalTx is never reached with the fake's leases (they hold no
// session, so Release fails and the loop records through FinishApproval).
func (w *fakeWorld) FinishApprovalTx(ctx context.Context, _ pgx.Tx, id int64, status approval.Status, message string, result any) error {
	return w.FinishApproval(ctx, id, status, message, result)
}

func (w *fakeWorld) AppendApprovalEvents(_ context.Context, id int64, events []approval.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.progress[id] = append(w.progress[id], events...)
	return nil
}

func (w *fakeWorld) ExpireApprovals(context.Context) (int64, error) { return 0, nil }

func (w *fakeWorld) InterruptOrphanedApprovals(context.Context, int32, time.Duration) ([]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweeps++
	return nil, nil
}

func (w *fakeWorld) ActiveApprovalStacks(context.Context) (pending, applying []int64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.active...), nil, nil
}

func (w *fakeWorld) ApprovalCounts(context.Context) (map[string]int, error) {
	return map[string]int{}, nil
}

// Listen forwards w.notes until ctx ends, then closes its channel, as
// state.Store.Listen does.
func (w *fakeWorld) Listen(ctx context.Context, _ ...string) (<-chan state.Notification, error) {
	w.mu.Lock()
	fail := w.listenErrs > 0
	w.listenErrs--
	w.mu.Unlock()
	if fail {
		return nil, errors.New("listen: connection refused")
	}
	out := make(chan state.Notification)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-w.notes:
				select {
				case out <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (w *fakeWorld) Snapshot(context.Context) (deploy.Snapshot, error) {
	w.mu.Lock()
	w.snapCalls++
	n, hook := w.snapCalls, w.snapHook
	w.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap, w.snapErr
}

func (w *fakeWorld) HandleEvent(ev deploy.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.invalidated = append(w.invalidated, ev.ContainerID)
}

func (w *fakeWorld) OnSettled(f func(int64)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settled = f
}

func (w *fakeWorld) Apply(_ context.Context, s spec.Stack, o deploy.ApplyOptions, progress deploy.ProgressFunc) (deploy.Result, error) {
	w.mu.Lock()
	w.applied = append(w.applied, s.Name)
	w.appliedWith = append(w.appliedWith, o)
	fn := w.applyFn
	w.mu.Unlock()
	if progress != nil {
		progress(deploy.Progress{Time: time.Now(), Container: spec.ContainerName(s.Name, "web"), Action: "create", Status: deploy.ProgressDone})
	}
	res, err := deploy.Result{Created: []string{spec.ContainerName(s.Name, "web")}}, error(nil)
	if fn != nil {
		res, err = fn(s)
	}
	if err == nil {
		// The engine now runs what the apply converged to.
		w.mu.Lock()
		w.snap.Containers[s.ID] = convergedContainers(s)
		w.snap.Networks[s.Network()] = "net1"
		w.mu.Unlock()
	}
	return res, err
}

func (w *fakeWorld) Events(ctx context.Context) (<-chan deploy.Event, <-chan error) {
	errs := make(chan error, 1)
	out := make(chan deploy.Event)
	w.mu.Lock()
	broken := w.streamErrs > 0
	w.streamErrs--
	w.mu.Unlock()
	if broken {
		errs <- errors.New("stream docker events: connection refused")
		close(errs)
		close(out)
		return out, errs
	}
	go func() {
		defer close(errs)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case ev := <-w.events:
				select {
				case out <- ev:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}
	}()
	return out, errs
}

// TryLock hands out a zero Lease (BackendPID 0, Unlock a no-op) or lockErr.
func (w *fakeWorld) TryLock(_ context.Context, stackID int64) (*lock.Lease, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lockCalls++
	if w.lockErr != nil {
		return nil, w.lockErr
	}
	return &lock.Lease{}, nil
}

// snapshotOf returns copies of the recorded calls under the lock.
func (w *fakeWorld) snapshotOf(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
}

// runningContainerOf returns the container compose would have created for
// the first instance of s (planned in unitInstallation): running, on the
// stack's network, with compose's config hash and the devarch labels.
func runningContainerOf(t *testing.T, s spec.Stack) spec.Container {
	t.Helper()
	return convergedContainers(s)[0]
}

// convergedContainers are the containers compose up of s creates, one per
// enabled instance: running, on the stack's network ("net1"), with
// compose's config hash.
func convergedContainers(s spec.Stack) []spec.Container {
	p, err := project.Build(s, unitInstallation)
	if err != nil {
		panic(err)
	}
	var out []spec.Container
	for _, inst := range s.Instances {
		svc, ok := p.Services[inst.Name]
		if !ok {
			continue
		}
		hash, err := project.ServiceHash(svc)
		if err != nil {
			panic(err)
		}
		labels := maps.Clone(map[string]string(svc.Labels))
		maps.Copy(labels, svc.CustomLabels)
		labels[api.ConfigHashLabel] = hash
		out = append(out, spec.Container{
			ID: "c0ffee" + strconv.FormatInt(inst.ID, 10), Name: svc.ContainerName,
			StackID: s.ID, StackName: s.Name, InstanceID: inst.ID, InstanceName: inst.Name,
			Project: p.Name, Service: inst.Name, ConfigHash: hash, Image: svc.Image,
			Labels: labels, Networks: map[string]string{s.Network(): "net1"}, State: spec.StateRunning,
		})
	}
	return out
}
