package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// applyLedger watches every apply of every replica: which approval each
// apply served and how many applies of one stack ran at once.
type applyLedger struct {
	mu          sync.Mutex
	perApproval map[int64]int
	inFlight    map[int64]int
	maxInFlight map[int64]int
	total       int
}

func newApplyLedger() *applyLedger {
	return &applyLedger{perApproval: map[int64]int{}, inFlight: map[int64]int{}, maxInFlight: map[int64]int{}}
}

func (l *applyLedger) begin(stackID, approvalID int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	l.perApproval[approvalID]++
	l.inFlight[stackID]++
	l.maxInFlight[stackID] = max(l.maxInFlight[stackID], l.inFlight[stackID])
}

func (l *applyLedger) end(stackID int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight[stackID]--
}

// ledgerWrap makes a replica's claims and applies visible to the ledger.
// A replica works on one stack with one worker at a time, so the approval
// it claimed last for a stack is the one its next apply of that stack
// serves.
func ledgerWrap(l *applyLedger) func(*reconcile.Deps) {
	return func(d *reconcile.Deps) {
		claims := &claimTracker{ApprovalStore: d.Approvals, current: map[int64]int64{}}
		d.Approvals = claims
		d.Applier = &ledgerApplier{inner: d.Applier, ledger: l, claims: claims}
	}
}

type claimTracker struct {
	reconcile.ApprovalStore
	mu      sync.Mutex
	current map[int64]int64 // stack id → approval claimed last
}

func (c *claimTracker) ClaimApproval(ctx context.Context, stackID int64, replica string) (*approval.Approval, error) {
	a, err := c.ApprovalStore.ClaimApproval(ctx, stackID, replica)
	if a != nil {
		c.mu.Lock()
		c.current[stackID] = a.ID
		c.mu.Unlock()
	}
	return a, err
}

func (c *claimTracker) claimed(stackID int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current[stackID]
}

type ledgerApplier struct {
	inner  reconcile.Applier
	ledger *applyLedger
	claims *claimTracker
}

func (a *ledgerApplier) Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, p deploy.ProgressFunc) (deploy.Result, error) {
	a.ledger.begin(s.ID, a.claims.claimed(s.ID))
	defer a.ledger.end(s.ID)
	return a.inner.Apply(ctx, s, o, p)
}

// TestReplicasApplyEachApprovalOnce runs three controllers against one
// database and files 50 approvals of 10 stacks at once.
func TestReplicasApplyEachApprovalOnce(t *testing.T) {
	e := newEnv(t)
	const nStacks, perStack = 10, 5 // per stack: 4 with the current token, 1 stale
	stacks := make([]spec.Stack, nStacks)
	for i := range stacks {
		stacks[i] = e.createStack("rep", smallInstance("web", i%2 == 0))
	}
	ledger := newApplyLedger()
	replicas := make([]*replica, 3)
	for i := range replicas {
		replicas[i] = e.startReplica(fmt.Sprintf("replica-%d", i), reconcile.Options{Workers: 2, Resync: 5 * time.Second}, ledgerWrap(ledger))
	}

	start := time.Now()
	type filed struct {
		approval approval.Approval
		stale    bool
	}
	all := make([]filed, nStacks*perStack)
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stacks[i%nStacks]
			stale := i/nStacks == 2 // the third round of approvals carries a stale token
			token := ""
			if stale {
				token = "stale-" + s.Name
			}
			all[i] = filed{approval: e.file(t.Context(), s, token), stale: stale}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	const bound = 90 * time.Second
	replicaIDs := []string{replicas[0].id, replicas[1].id, replicas[2].id}
	counts := map[approval.Status]int{}
	for _, f := range all {
		a := e.waitApproval(f.approval.ID, bound-time.Since(start), "final", final)
		counts[a.Status]++
		if !slices.Contains(replicaIDs, a.ClaimedBy) {
			t.Errorf("approval %d claimed by %q, want one of the replicas", a.ID, a.ClaimedBy)
		}
		want := approval.Succeeded
		if f.stale {
			want = approval.Stale
		}
		if a.Status != want {
			t.Errorf("approval %d (stack %s, stale %v): %s %q, want %s", a.ID, a.Stack, f.stale, a.Status, a.Message, want)
		}
		if f.stale && a.Message != reconcile.MessageStale {
			t.Errorf("stale approval %d message %q", a.ID, a.Message)
		}
	}
	t.Logf("50 approvals final after %v: %v", time.Since(start).Round(time.Millisecond), counts)

	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for _, f := range all {
		n := ledger.perApproval[f.approval.ID]
		switch {
		case f.stale && n != 0:
			t.Errorf("stale approval %d was applied %d times", f.approval.ID, n)
		case !f.stale && n != 1:
			t.Errorf("approval %d was applied %d times, want exactly once", f.approval.ID, n)
		}
	}
	if ledger.perApproval[0] != 0 {
		t.Errorf("%d applies served no claimed approval", ledger.perApproval[0])
	}
	if want := nStacks * (perStack - 1); ledger.total != want {
		t.Errorf("%d applies in all, want %d", ledger.total, want)
	}
	for id, n := range ledger.maxInFlight {
		if n != 1 {
			t.Errorf("stack %d: %d applies ran at once", id, n)
		}
	}
	if counts[approval.Conflict] != 0 {
		t.Errorf("%d approvals ended in conflict: replicas must never conflict with each other", counts[approval.Conflict])
	}

	// Every stack converges, and every replica agrees.
	for _, s := range stacks {
		e.waitStatus(s.ID, 30*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
		e.lockFree(s.ID)
	}
	for _, r := range replicas {
		deadline := time.Now().Add(15 * time.Second)
		for _, s := range stacks {
			for r.ctrl.Statuses()[s.ID].Condition != reconcile.InSync {
				if time.Now().After(deadline) {
					t.Fatalf("replica %s sees stack %s as %+v, want InSync", r.id, s.Name, r.ctrl.Statuses()[s.ID])
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// holdInFinish holds the replica's worker inside the transaction that
// records an approval's outcome and releases the stack's lock, after the
// outcome is written and before the lock is released and the outcome
// committed, until another replica has looked for the stack's next
// approval (its counter moved), and 100 ms more. The same window
// opens, shorter, whenever a replica finishes an approval, and longer on a
// loaded machine.
type holdInFinish struct {
	reconcile.ApprovalStore
	claims *claimCounter
}

func (h holdInFinish) FinishApprovalTx(ctx context.Context, tx pgx.Tx, id int64, status approval.Status, message string, result any) error {
	if err := h.ApprovalStore.FinishApprovalTx(ctx, tx, id, status, message, result); err != nil {
		return err
	}
	before := h.claims.n.Load()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && h.claims.n.Load() == before; {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	return nil
}

// claimCounter counts how often a replica looked for a stack's pending
// approval, the step before it takes the lock and claims.
type claimCounter struct {
	reconcile.ApprovalStore
	n *atomic.Int64
}

func (c claimCounter) HasPendingApproval(ctx context.Context, stackID int64) (bool, error) {
	c.n.Add(1)
	return c.ApprovalStore.HasPendingApproval(ctx, stackID)
}

// TestReplicaHandoffIsNotAConflict: a replica records an approval's
// outcome in the transaction that releases the stack's lock. Another
// replica that comes for the stack's next approval meanwhile finds the
// lock held, leaves the approval pending (no conflict, nothing claimed)
// and comes back after its lock retry delay: both approvals succeed, and
// neither replica waits on the lock.
func TestReplicaHandoffIsNotAConflict(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("handoff", smallInstance("web", false))
	takerClaims := &claimCounter{n: &atomic.Int64{}}
	a1 := e.file(t.Context(), s, "")
	e.startReplica("holder", reconcile.Options{Workers: 1, Resync: time.Hour}, func(d *reconcile.Deps) {
		d.Approvals = holdInFinish{ApprovalStore: d.Approvals, claims: takerClaims}
	})
	e.waitApproval(a1.ID, 30*time.Second, "claimed", func(a approval.Approval) bool { return a.Status != approval.Pending })
	e.startReplica("taker", reconcile.Options{Workers: 1, Resync: time.Hour}, func(d *reconcile.Deps) {
		takerClaims.ApprovalStore = d.Approvals
		d.Approvals = takerClaims
	})
	a2 := e.file(t.Context(), s, "")
	for _, id := range []int64{a1.ID, a2.ID} {
		got := e.waitApproval(id, 30*time.Second, "final", final)
		if got.Status != approval.Succeeded {
			t.Errorf("approval %d claimed by %s: %s %q, want succeeded", id, got.ClaimedBy, got.Status, got.Message)
		}
	}
	if takerClaims.n.Load() == 0 {
		t.Error("the taker never came for the stack's approval: the test did not open the hand-off window")
	}
	e.lockFree(s.ID)
}
