package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

const unitSecret = "hunter2-canary-value"

// unitStack is a one-instance stack with a secret env value; with no
// container observed its plan adds the instance.
func unitStack(id int64, name string) spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "devarch-test/sleeper:latest",
		Env: []spec.EnvVar{{Key: "DB_PASSWORD", Value: unitSecret}}}}
	return spec.Stack{ID: id, Name: name, Enabled: true, Instances: []spec.Instance{
		{ID: id*10 + 1, Name: "web", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}}}
}

// newUnitController returns a controller over w that can reconcile without
// Run (its apply context is the test's).
func newUnitController(t *testing.T, w *fakeWorld) *Controller {
	t.Helper()
	c := New(w.deps(), Options{ReplicaID: "unit/1", Logger: zaptest.NewLogger(t)})
	c.applyCtx = t.Context()
	return c
}

func TestApprovalOutcomes(t *testing.T) {
	s := unitStack(1, "shop")
	composeErr := func(spec.Stack) (deploy.Result, error) {
		return deploy.Result{ComposeOutput: "container devarch-shop-web: env DB_PASSWORD=" + unitSecret + " refused"},
			&deploy.ApplyError{Phase: deploy.PhaseCompose, Err: errors.New("start devarch-shop-web: " + unitSecret + " is invalid\nmore detail")}
	}
	networkErr := func(spec.Stack) (deploy.Result, error) {
		return deploy.Result{}, &deploy.ApplyError{Phase: deploy.PhaseNetwork, Err: errors.New("create network: address pool exhausted")}
	}
	tests := []struct {
		name        string
		token       string
		lockErr     error
		applyFn     func(spec.Stack) (deploy.Result, error)
		wantStatus  approval.Status
		wantMessage func(t *testing.T, msg string)
		wantApplied int
		wantLocked  bool
	}{
		{name: "current token applies", token: unitToken(s), wantStatus: approval.Succeeded, wantApplied: 1, wantLocked: true,
			wantMessage: func(t *testing.T, msg string) {
				if msg != "Applied: 1 created, 0 recreated, 0 started, 0 restarted, 0 removed." {
					t.Errorf("message = %q", msg)
				}
			}},
		{name: "stale token touches nothing", token: "0000stale", wantStatus: approval.Stale, wantLocked: true,
			wantMessage: exactly(MessageStale)},
		{name: "compose failure names the phase", token: unitToken(s), applyFn: composeErr, wantStatus: approval.Failed,
			wantApplied: 1, wantLocked: true, wantMessage: func(t *testing.T, msg string) {
				if !strings.HasPrefix(msg, "Apply failed in the compose phase: start devarch-shop-web:") || strings.Contains(msg, "more detail") {
					t.Errorf("message = %q, want the compose phase and the error's first line", msg)
				}
				if !strings.Contains(msg, "config files are kept for debugging") {
					t.Errorf("message %q does not say what was left behind", msg)
				}
			}},
		{name: "network failure names the phase", token: unitToken(s), applyFn: networkErr, wantStatus: approval.Failed,
			wantApplied: 1, wantLocked: true, wantMessage: func(t *testing.T, msg string) {
				if !strings.HasPrefix(msg, "Apply failed in the network phase: create network: address pool exhausted.") ||
					!strings.Contains(msg, "Nothing was changed.") {
					t.Errorf("message = %q", msg)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(s)
			w.lockErr, w.applyFn = tt.lockErr, tt.applyFn
			w.file(7, s.ID, tt.token)
			c := newUnitController(t, w)
			if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			w.snapshotOf(func() {
				got, ok := w.finished[7]
				if !ok {
					t.Fatalf("approval not finished")
				}
				if got.status != tt.wantStatus {
					t.Errorf("status = %q, want %q (message %q)", got.status, tt.wantStatus, got.message)
				}
				tt.wantMessage(t, got.message)
				if strings.Contains(got.message, unitSecret) {
					t.Errorf("message leaks the secret: %q", got.message)
				}
				if len(w.applied) != tt.wantApplied {
					t.Errorf("Apply called %d times, want %d", len(w.applied), tt.wantApplied)
				}
				if _, ok := w.locked[7]; ok != tt.wantLocked {
					t.Errorf("lock recorded = %v, want %v", ok, tt.wantLocked)
				}
				if tt.wantApplied == 0 && got.result != nil {
					t.Errorf("result stored without an apply: %#v", got.result)
				}
			})
		})
	}
}

func exactly(want string) func(*testing.T, string) {
	return func(t *testing.T, msg string) {
		t.Helper()
		if msg != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
	}
}

func TestFailedApplyStoresScrubbedResult(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.applyFn = func(spec.Stack) (deploy.Result, error) {
		return deploy.Result{Created: []string{"devarch-shop-web"}, ComposeOutput: "env DB_PASSWORD=" + unitSecret + " refused",
				Durations: map[string]time.Duration{deploy.PhaseCompose: time.Second}},
			&deploy.ApplyError{Phase: deploy.PhaseCompose, Err: errors.New("boom")}
	}
	w.file(3, s.ID, unitToken(s))
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	res, ok := w.finished[3].result.(*deploy.Result)
	if !ok {
		t.Fatalf("result = %#v, want *deploy.Result", w.finished[3].result)
	}
	if res.ComposeOutput != "env DB_PASSWORD=*** refused" && strings.Contains(res.ComposeOutput, unitSecret) {
		t.Errorf("compose output leaks the secret: %q", res.ComposeOutput)
	}
	if !strings.Contains(res.ComposeOutput, "refused") || len(res.Created) != 1 {
		t.Errorf("result lost what the apply did: %+v", res)
	}
	if len(w.progress[3]) == 0 {
		t.Error("progress events were not stored")
	}
}

// TestBusyLockRequeuesThePendingApproval: while another session holds
// the stack's lock, the pass claims nothing — the approval stays pending —
// and asks for the stack again after Options.LockRetry instead of waiting;
// once the lock is free, the next pass applies the approval. Nothing fails.
func TestBusyLockRequeuesThePendingApproval(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.lockErr = &lock.HeldError{StackID: 1, HolderPID: 4242}
	w.file(5, s.ID, unitToken(s))
	c := New(w.deps(), Options{ReplicaID: "unit/1", Logger: zaptest.NewLogger(t), LockRetry: 1500 * time.Millisecond})
	c.applyCtx = t.Context()
	res, err := c.reconcileStack(t.Context(), s.ID)
	if err != nil || res.requeueAfter != 1500*time.Millisecond {
		t.Fatalf("reconcile with the lock held: %+v, %v; want a requeue after the lock retry delay and no error", res, err)
	}
	w.snapshotOf(func() {
		if w.claims != 0 || len(w.pending[s.ID]) != 1 || len(w.finished) != 0 || len(w.applied) != 0 {
			t.Fatalf("claims %d, pending %d, finished %v, applied %v; want the approval left pending, untouched",
				w.claims, len(w.pending[s.ID]), w.finished, w.applied)
		}
		w.lockErr = nil
	})
	res, err = c.reconcileStack(t.Context(), s.ID)
	if err != nil || res.requeueAfter != 0 {
		t.Fatalf("reconcile with the lock free: %+v, %v", res, err)
	}
	w.snapshotOf(func() {
		if got := w.finished[5]; got.status != approval.Succeeded || len(w.applied) != 1 {
			t.Fatalf("finished %+v, applied %v; want the approval applied once the lock was free", got, w.applied)
		}
	})
}

// TestLockErrorKeepsTheApprovalPending: when the stack's lock cannot even
// be asked for (the database does not answer), nothing is claimed: the
// pass fails (and is retried with backoff) and the approval stays pending,
// to be applied when the database answers again.
func TestLockErrorKeepsTheApprovalPending(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.lockErr = errors.New("acquire connection: connection refused")
	w.file(5, s.ID, unitToken(s))
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("reconcile: %v, want the lock error to retry", err)
	}
	w.snapshotOf(func() {
		if w.claims != 0 || len(w.finished) != 0 || len(w.applied) != 0 || len(w.pending[s.ID]) != 1 {
			t.Fatalf("claims %d, finished %v, applied %v; want nothing claimed, the approval pending", w.claims, w.finished, w.applied)
		}
		w.lockErr = nil
	})
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatalf("reconcile after the database came back: %v", err)
	}
	if got := w.finished[5]; got.status != approval.Succeeded {
		t.Fatalf("finished %+v, want succeeded", got)
	}
}

// TestUnrecordedOutcomeIsRecordedLater: when the database does not take an
// approval's outcome (a hiccup between the engine work and the finish
// step), the controller keeps the outcome and records it before the
// stack's next reconcile, so the approval ends with what happened instead
// of staying applying.
func TestUnrecordedOutcomeIsRecordedLater(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.file(7, s.ID, unitToken(s))
	w.finishErrs = 2
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err == nil {
		t.Fatal("reconcile succeeded although the outcome was not recorded; want an error to retry")
	}
	if len(w.applied) != 1 || len(w.finished) != 0 {
		t.Fatalf("applied %v, finished %v; want one apply, no outcome yet", w.applied, w.finished)
	}
	if _, err := c.reconcileStack(t.Context(), s.ID); err == nil {
		t.Fatal("second reconcile succeeded although the database still refused the outcome")
	}
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatalf("third reconcile: %v", err)
	}
	if got := w.finished[7]; got.status != approval.Succeeded {
		t.Fatalf("finished %+v, want the real outcome, succeeded", got)
	}
	if len(w.applied) != 1 {
		t.Fatalf("applied %v, want exactly one apply", w.applied)
	}
}

func TestDrainingControllerClaimsNothing(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.file(1, s.ID, unitToken(s))
	c := newUnitController(t, w)
	close(c.draining)
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if w.claims != 0 || len(w.applied) != 0 {
		t.Fatalf("draining controller claimed %d and applied %d", w.claims, len(w.applied))
	}
	if len(w.writes) != 1 || w.writes[0][0].Condition != Drifted {
		t.Fatalf("status writes = %+v, want the plan's status still recorded", w.writes)
	}
}

func TestApprovalOfDeletedStackIsStale(t *testing.T) {
	w := newFakeWorld() // stack 9 is gone
	w.file(4, 9, "token-of-a-deleted-stack")
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), 9); err != nil {
		t.Fatal(err)
	}
	got, ok := w.finished[4]
	if !ok || got.status != approval.Stale || !strings.Contains(got.message, "deleted") {
		t.Fatalf("finished = %+v (ok %v), want stale saying the stack was deleted", got, ok)
	}
	if len(w.applied) != 0 {
		t.Fatal("applied a deleted stack")
	}
}

func TestStatusWrittenOnlyWhenItChanges(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	c := newUnitController(t, w)
	ctx := t.Context()
	reconcile := func() {
		t.Helper()
		if _, err := c.reconcileStack(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name       string
		change     func()
		wantWrites int
		wantCond   Condition
	}{
		{"first reconcile writes", func() {}, 1, Drifted},
		{"same plan again writes nothing", func() {}, 1, Drifted},
		// A full pass offers every status again (the store updates only the
		// rows whose content differs), so a write the store dropped is
		// never remembered as done.
		{"a full pass offers the status again", func() { c.fullPass(ctx) }, 2, Drifted},
		{"the stack converging writes", func() { s2 := s; s2.Instances = nil; w.stacks[1] = s2 }, 3, InSync},
		{"a failed write is retried next time", func() { w.writeErr = errors.New("database down"); w.stacks[1] = s }, 4, Drifted},
		{"after the failure the same status is written again", func() { w.writeErr = nil }, 5, Drifted},
		{"and then not again", func() {}, 5, Drifted},
	}
	for _, st := range steps {
		st.change()
		reconcile()
		if len(w.writes) != st.wantWrites {
			t.Fatalf("%s: %d writes, want %d", st.name, len(w.writes), st.wantWrites)
		}
		if got := c.Statuses()[1].Condition; got != st.wantCond {
			t.Fatalf("%s: condition %q, want %q", st.name, got, st.wantCond)
		}
	}
}

func TestSnapshotFailureIsErrorStatus(t *testing.T) {
	a, b := unitStack(1, "shop"), unitStack(2, "blog")
	w := newFakeWorld(a, b)
	w.snapErr = errors.New("Cannot connect to the Docker daemon")
	c := newUnitController(t, w)
	_, err := c.reconcileStack(t.Context(), 1)
	if err == nil || !strings.Contains(err.Error(), "observe containers") {
		t.Fatalf("reconcile err = %v, want an observe error (retried with backoff)", err)
	}
	if st := c.Statuses()[1]; st.Condition != Error || !strings.Contains(st.Message, "Docker daemon") {
		t.Fatalf("status = %+v, want Error naming the cause", st)
	}
	c.fullPass(t.Context())
	for id, st := range c.Statuses() {
		if st.Condition != Error {
			t.Errorf("stack %d after a full pass: %q, want Error", id, st.Condition)
		}
	}
	if w.claims != 0 {
		t.Error("approvals were claimed although the runtime could not be observed")
	}
	w.snapErr = nil
	c.fullPass(t.Context())
	if st := c.Statuses()[1]; st.Condition != Drifted {
		t.Fatalf("after recovery: %q, want Drifted", st.Condition)
	}
}

func TestInterruptSweepRewritesStatuses(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	c := newUnitController(t, w)
	c.fullPass(t.Context())
	if _, err := c.reconcileStack(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 {
		t.Fatalf("%d writes, want 1 (a reconcile with the same plan writes nothing)", len(w.writes))
	}
	// Another controller died while applying: the store kept its
	// "Applying" row and dropped this controller's writes meanwhile. Once
	// the sweep interrupts the approval, every status is written again.
	c.d.Sweeper = interruptingSweeper{w}
	c.fullPass(t.Context())
	if len(w.writes) != 2 || w.writes[1][0].Condition != Drifted {
		t.Fatalf("writes = %+v, want the status written again after an interrupt", w.writes)
	}
}

type interruptingSweeper struct{ *fakeWorld }

func (interruptingSweeper) InterruptOrphanedApprovals(context.Context, int32, time.Duration) ([]int64, error) {
	return []int64{1}, nil
}

// runController runs c until the test ends and returns a function that
// stops it and waits for Run to return.
func runController(t *testing.T, c *Controller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return 10 s after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitPass(t *testing.T, w *fakeWorld, why string) {
	t.Helper()
	select {
	case <-w.passDone:
	case <-time.After(5 * time.Second):
		t.Fatalf("no full pass %s", why)
	}
}

func noPass(t *testing.T, w *fakeWorld, why string) {
	t.Helper()
	select {
	case <-w.passDone:
		t.Fatalf("unexpected full pass %s", why)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestTriggers(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.passDone = make(chan struct{}, 8)
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})
	runController(t, c)
	waitPass(t, w, "at start")
	reads := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.byIDReads[1]
	}
	waitReads := func(want int, why string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for reads() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stack read %d times, want %d", why, reads(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	w.notes <- state.Notification{Channel: state.ChannelDesired, Resync: true}
	waitPass(t, w, "after a NOTIFY resync (reconnected listener)")
	w.notes <- state.Notification{Channel: state.ChannelDesired, Payload: `{"kind":"template","id":3,"stack_id":null}`}
	waitPass(t, w, "after a template change")

	w.notes <- state.Notification{Channel: state.ChannelDesired, Payload: `{"kind":"instance","id":11,"stack_id":1}`}
	waitReads(1, "instance change")
	noPass(t, w, "after an instance change")
	w.notes <- state.Notification{Channel: state.ChannelApprovals, Payload: `{"id":5,"stack_id":1,"status":"pending"}`}
	waitReads(2, "approval filed")
	w.events <- deploy.Event{StackID: 1, InstanceID: 11, Action: "die"}
	waitReads(3, "container event")
	w.notes <- state.Notification{Channel: state.ChannelApprovals, Payload: `{"id":5,"stack_id":1,"status":"applying"}`}
	w.notes <- state.Notification{Channel: state.ChannelDesired, Payload: `not json`}
	noPass(t, w, "after an applying or malformed notification")
	if got := reads(); got != 3 {
		t.Fatalf("stack read %d times, want 3 (applying and malformed notifications enqueue nothing)", got)
	}
}

func TestFailedReconcileRetriesWithBackoff(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.stacksErr = errors.New("connection refused")
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})
	runController(t, c)
	c.Enqueue(1)
	var times []time.Time
	deadline := time.Now().Add(10 * time.Second)
	for len(times) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("stack read at %v, want 3 reads within 10 s", times)
		}
		time.Sleep(10 * time.Millisecond)
		w.snapshotOf(func() { times = append([]time.Time(nil), w.byIDTimes...) })
	}
	// Retries wait BaseDelay, then twice that: a loaded machine may be
	// late, never early.
	const slack = 1500 * time.Millisecond
	for i, want := range []time.Duration{BaseDelay, 2 * BaseDelay} {
		if gap := times[i+1].Sub(times[i]); gap < want || gap > want+slack {
			t.Errorf("retry %d after %v, want %v", i+1, gap, want)
		}
	}
}

func TestShutdownRecordsStatusOfInFlightApply(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.file(1, s.ID, unitToken(s))
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})
	applying := make(chan struct{})
	release := make(chan struct{})
	w.applyFn = func(st spec.Stack) (deploy.Result, error) {
		close(applying)
		<-release
		return deploy.Result{Created: []string{"devarch-shop-web"}}, nil
	}
	stop := runController(t, c)
	c.Enqueue(s.ID)
	select {
	case <-applying:
	case <-time.After(5 * time.Second):
		t.Fatal("the approval was never applied")
	}
	w.file(2, s.ID, unitToken(s)) // filed after shutdown began: must stay pending
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	for !c.isDraining() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-done
	if got := w.finished[1].status; got != approval.Succeeded {
		t.Fatalf("in-flight approval = %q, want succeeded", got)
	}
	if _, ok := w.finished[2]; ok || len(w.pending[1]) != 1 {
		t.Fatal("an approval was claimed after shutdown began")
	}
	last := w.writes[len(w.writes)-1]
	if last[0].Condition == Applying {
		t.Fatalf("last status written is %q: the stack stays Applying after the controller stopped", last[0].Condition)
	}
}

func TestShutdownTimeoutInterruptsApply(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.file(1, s.ID, unitToken(s))
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, ShutdownTimeout: 200 * time.Millisecond, Logger: zaptest.NewLogger(t)})
	blocked := make(chan struct{})
	c.d.Applier = applierFunc(func(ctx context.Context) (deploy.Result, error) {
		close(blocked)
		<-ctx.Done()
		return deploy.Result{}, &deploy.ApplyError{Phase: deploy.PhaseCompose, Err: fmt.Errorf("compose up: %w", ctx.Err())}
	})
	stop := runController(t, c)
	c.Enqueue(s.ID)
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the approval was never applied")
	}
	stop()
	got, ok := w.finished[1]
	if !ok {
		t.Fatal("the approval cut off by the shutdown timeout was left applying")
	}
	if got.status != approval.Interrupted || !strings.Contains(got.message, "stopped") {
		t.Fatalf("finished = %+v, want interrupted saying the controller stopped", got)
	}
}

type applierFunc func(ctx context.Context) (deploy.Result, error)

func (f applierFunc) Apply(ctx context.Context, _ spec.Stack, _ deploy.ApplyOptions, _ deploy.ProgressFunc) (deploy.Result, error) {
	return f(ctx)
}

func TestReconnectAsksForFullPass(t *testing.T) {
	tests := []struct {
		name string
		cut  func(w *fakeWorld)
	}{
		{"database listener was down", func(w *fakeWorld) { w.listenErrs = 1 }},
		{"engine event stream was down", func(w *fakeWorld) { w.streamErrs = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(unitStack(1, "shop"))
			tt.cut(w)
			w.passDone = make(chan struct{}, 8)
			runController(t, New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)}))
			waitPass(t, w, "at start")
			// Reconnecting waits watchMinBackoff (1 s), then asks for a pass:
			// whatever happened meanwhile was missed.
			select {
			case <-w.passDone:
			case <-time.After(5 * time.Second):
				t.Fatal("no full pass after reconnecting")
			}
		})
	}
}

// TestEventDuringPassLeadsToAnotherPass: an engine event for a stack whose
// reconcile is in flight (its snapshot already taken, say, before the
// container died) is not lost: the event invalidates the container and the
// stack is reconciled once more after the pass, with a fresh snapshot, so
// the stored status ends with what the engine shows last.
func TestEventDuringPassLeadsToAnotherPass(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.passDone = make(chan struct{}, 8)
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})

	// The container runs, as created by an apply.
	running := runningContainerOf(t, s)
	w.snap.Containers[1] = []spec.Container{running}
	inFlight, release := make(chan struct{}), make(chan struct{})
	w.snapHook = func(n int) {
		if n == 2 { // the first event-driven pass (pass 1 is the full pass at start)
			close(inFlight)
			<-release
		}
	}
	runController(t, c)
	waitPass(t, w, "at start")
	waitCondition(t, c, 1, InSync, "after the full pass")

	// An out-of-memory kill: "oom", then "die" (a plain "kill" leads to no
	// pass of its own).
	w.events <- deploy.Event{StackID: 1, InstanceID: 11, ContainerID: running.ID, Action: "oom"}
	<-inFlight
	// While that pass waits on its snapshot, the container dies and the
	// engine says so.
	dead := running
	dead.State, dead.ExitCode = spec.StateExited, 137
	w.snapshotOf(func() { w.snap.Containers[1] = []spec.Container{dead} })
	w.events <- deploy.Event{StackID: 1, InstanceID: 11, ContainerID: running.ID, Action: "die"}
	waitInvalidated(t, w, 2)
	close(release)
	waitCondition(t, c, 1, Drifted, "after the die event that arrived during a pass")
	// The in-flight pass may itself have seen the dead container (its
	// snapshot was read after the hook); the event that came during it must
	// still lead to a pass after it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		w.snapshotOf(func() { n = w.snapCalls })
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots within 5 s, want a third one after the in-flight pass", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	w.snapshotOf(func() {
		for _, id := range w.invalidated {
			if id != running.ID {
				t.Errorf("invalidated %q, want only the event's container %q", id, running.ID)
			}
		}
	})
}

func waitInvalidated(t *testing.T, w *fakeWorld, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got int
		w.snapshotOf(func() { got = len(w.invalidated) })
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d invalidations within 5 s, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitCondition(t *testing.T, c *Controller, id int64, want Condition, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Statuses()[id].Condition != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v, want %s", when, c.Statuses()[id], want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSettledDeathIsReconciled: when the observer says a container's exit
// has settled (it showed the death provisionally, see
// deploy.Observer.HandleEvent), the controller reconciles that stack again.
func TestSettledDeathIsReconciled(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})
	var settled func(int64)
	w.snapshotOf(func() { settled = w.settled })
	if settled == nil {
		t.Fatal("the controller gave the observer no function to call when a death settles")
	}
	settled(1)
	if c.QueueDepth() != 1 {
		t.Fatalf("queue depth %d after a settled death, want the stack queued", c.QueueDepth())
	}
}

// TestKillEventLeadsToNoPass: a kill only says a signal was sent; the die
// that follows (if the process ends) is what changes the container, and
// a pass for the kill would only make the die's pass wait behind it.
func TestKillEventLeadsToNoPass(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.passDone = make(chan struct{}, 8)
	c := New(w.deps(), Options{ReplicaID: "unit/1", Resync: time.Hour, Logger: zaptest.NewLogger(t)})
	running := runningContainerOf(t, s)
	w.snap.Containers[1] = []spec.Container{running}
	runController(t, c)
	waitPass(t, w, "at start")
	waitCondition(t, c, 1, InSync, "after the full pass")
	snaps := func() (n int) {
		w.snapshotOf(func() { n = w.snapCalls })
		return n
	}
	before := snaps()
	w.events <- deploy.Event{StackID: 1, InstanceID: 11, ContainerID: running.ID, Action: "kill"}
	time.Sleep(300 * time.Millisecond)
	if n := snaps(); n != before {
		t.Fatalf("%d snapshots after a kill event, want none", n-before)
	}
	dead := running
	dead.State, dead.ExitCode = spec.StateExited, 137
	w.snapshotOf(func() { w.snap.Containers[1] = []spec.Container{dead} })
	w.events <- deploy.Event{StackID: 1, InstanceID: 11, ContainerID: running.ID, Action: "die"}
	waitCondition(t, c, 1, Drifted, "after the die event")
}
