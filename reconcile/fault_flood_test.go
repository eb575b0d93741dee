package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// auditApprovals installs, in the test's own database, a trigger that
// records every change of an approval's status, claimed_by or started_at,
// so that a test can check each approval went pending → applying → final
// exactly once, claimed by one replica.
func (e *env) auditApprovals() {
	e.t.Helper()
	_, err := e.store.Pool().Exec(e.t.Context(), `
		CREATE TABLE fault_approval_audit (
			seq         bigserial PRIMARY KEY,
			approval_id bigint NOT NULL,
			old_status  text NOT NULL,
			new_status  text NOT NULL,
			claimed_by  text,
			started_at  timestamptz);
		CREATE FUNCTION fault_audit_approval() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO fault_approval_audit (approval_id, old_status, new_status, claimed_by, started_at)
			VALUES (NEW.id, OLD.status, NEW.status, NEW.claimed_by, NEW.started_at);
			RETURN NULL;
		END $$;
		CREATE TRIGGER fault_audit_approval AFTER UPDATE ON approvals FOR EACH ROW
			WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.claimed_by IS DISTINCT FROM NEW.claimed_by
			      OR OLD.started_at IS DISTINCT FROM NEW.started_at)
			EXECUTE FUNCTION fault_audit_approval();`)
	if err != nil {
		e.t.Fatalf("install the approvals audit trigger: %v", err)
	}
}

// auditRow is one recorded change of an approval.
type auditRow struct {
	ApprovalID int64
	OldStatus  approval.Status
	NewStatus  approval.Status
	ClaimedBy  *string
	StartedAt  *time.Time
}

// checkAudit fails the test unless every approval in ids changed exactly
// twice: pending → applying (setting claimed_by and started_at) and
// applying → a final status, with claimed_by and started_at unchanged.
func (e *env) checkAudit(ids []int64) {
	e.t.Helper()
	rows, _ := e.store.Pool().Query(e.t.Context(), `SELECT approval_id, old_status, new_status, claimed_by, started_at
		FROM fault_approval_audit ORDER BY seq`)
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	if err != nil {
		e.t.Fatalf("read the approvals audit: %v", err)
	}
	byID := map[int64][]auditRow{}
	for _, r := range all {
		byID[r.ApprovalID] = append(byID[r.ApprovalID], r)
	}
	bad := 0
	for _, id := range ids {
		h := byID[id]
		ok := len(h) == 2 && h[0].OldStatus == approval.Pending && h[0].NewStatus == approval.Applying &&
			h[0].ClaimedBy != nil && h[0].StartedAt != nil &&
			h[1].OldStatus == approval.Applying && h[1].NewStatus.Final() &&
			h[1].ClaimedBy != nil && *h[1].ClaimedBy == *h[0].ClaimedBy && h[1].StartedAt != nil && h[1].StartedAt.Equal(*h[0].StartedAt)
		if !ok {
			if bad++; bad <= 10 {
				e.t.Errorf("approval %d changed %d times, want claimed once then finished once: %+v", id, len(h), h)
			}
		}
	}
	if bad > 10 {
		e.t.Errorf("... and %d more approvals with a wrong history", bad-10)
	}
}

// stackApplies counts applies per stack, beside the ledger (which counts
// them per approval).
type stackApplies struct {
	inner reconcile.Applier
	mu    *sync.Mutex
	n     map[int64]int
}

func (a stackApplies) Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, p deploy.ProgressFunc) (deploy.Result, error) {
	a.mu.Lock()
	a.n[s.ID]++
	a.mu.Unlock()
	return a.inner.Apply(ctx, s, o, p)
}

// floodApproval is one approval filed by the flood.
type floodApproval struct {
	id    int64
	stack spec.Stack
	stale bool
}

// TestFaultApprovalFlood files 1,000 approvals of 20 stacks at once and
// lets three replicas work them off: nothing is lost, every approval with
// the current token is applied exactly once, stale ones touch nothing, no
// two applies of one stack overlap and replicas never conflict.
func TestFaultApprovalFlood(t *testing.T) {
	t.Parallel() // own database, stacks and replicas; the longest test of the package
	const (
		nStacks   = 20
		nApproval = 1000
		bound     = 150 * time.Second // a hang detector: about 40 s on 2 cores with -race
	)
	// Twenty networks at once: from a pool of the test's own, not the
	// engine's default pools the other tests share.
	e := newEnvOn(t, testenv.Engine{Name: testenv.EngineDocker}, privateSubnetPool(t))
	e.auditApprovals()
	stacks := make([]spec.Stack, nStacks)
	for i := range stacks {
		stacks[i] = e.createStack("flood", smallInstance("web", i%2 == 0))
	}
	ledger := newApplyLedger()
	perStack := stackApplies{mu: &sync.Mutex{}, n: map[int64]int{}}
	wrap := func(d *reconcile.Deps) {
		ledgerWrap(ledger)(d)
		d.Applier = stackApplies{inner: d.Applier, mu: perStack.mu, n: perStack.n}
	}
	replicas := make([]*replica, 3)
	for i := range replicas {
		replicas[i] = e.startReplica(fmt.Sprintf("flood-%d", i), reconcile.Options{Workers: 2, Resync: 5 * time.Second}, wrap)
	}

	start := time.Now()
	all := e.fileFlood(stacks, nApproval)
	filedIn := time.Since(start)
	counts := e.waitApprovalsFinal(start, bound)
	t.Logf("%d approvals filed in %v, all final after %v: %v", nApproval, filedIn.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond), counts)

	if total := sum(counts); total != nApproval {
		t.Errorf("the database holds %d approvals, want %d: approvals were lost or invented", total, nApproval)
	}
	if counts[string(approval.Conflict)] != 0 {
		t.Errorf("%d approvals ended in conflict: replicas must never conflict with each other", counts[string(approval.Conflict)])
	}
	succeeded := e.checkFloodApprovals(all, replicas)
	ids := make([]int64, len(all))
	for i, f := range all {
		ids[i] = f.id
	}
	e.checkAudit(ids)
	checkFloodApplies(t, ledger, perStack, all, succeeded)

	for _, s := range stacks {
		e.waitStatus(s.ID, 30*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
		e.lockFree(s.ID)
	}
	for _, r := range replicas {
		if !r.running() {
			t.Errorf("replica %s stopped during the flood", r.id)
		}
	}
}

// fileFlood files n approvals of stacks, round robin, all at once (one
// goroutine each); one in ten carries a stale token.
func (e *env) fileFlood(stacks []spec.Stack, n int) []floodApproval {
	e.t.Helper()
	tokens := make([]string, len(stacks))
	for i, s := range stacks {
		tokens[i] = e.token(s)
	}
	all := make([]floodApproval, n)
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % len(stacks)
			f := floodApproval{stack: stacks[k], stale: (i/len(stacks))%10 == 3}
			token := tokens[k]
			if f.stale {
				token = "stale-" + stacks[k].Name
			}
			f.id = e.file(e.t.Context(), stacks[k], token).ID
			all[i] = f
		}()
	}
	wg.Wait()
	if e.t.Failed() {
		e.t.FailNow()
	}
	return all
}

// checkFloodApprovals checks every filed approval's row: succeeded (stale
// when filed so), claimed by one of the replicas, with its times. It
// returns the number of succeeded approvals per stack.
func (e *env) checkFloodApprovals(all []floodApproval, replicas []*replica) map[int64]int {
	e.t.Helper()
	succeeded := map[int64]int{}
	var took []time.Duration // claim to outcome, of the approvals applied
	for _, f := range all {
		a, err := e.store.Approval(e.t.Context(), f.id)
		if err != nil {
			e.t.Fatal(err)
		}
		want, message := approval.Succeeded, a.Message
		if f.stale {
			want, message = approval.Stale, reconcile.MessageStale
		} else if a.Status == approval.Succeeded {
			succeeded[f.stack.ID]++
			took = append(took, a.Duration())
		}
		if a.Status != want || a.Message != message {
			e.t.Errorf("approval %d (stack %s, stale %v): %s %q, want %s", a.ID, a.Stack, f.stale, a.Status, a.Message, want)
		}
		if !slices.ContainsFunc(replicas, func(r *replica) bool { return r.id == a.ClaimedBy }) {
			e.t.Errorf("approval %d claimed by %q, want one of the replicas", a.ID, a.ClaimedBy)
		}
		if a.StartedAt == nil || a.FinishedAt == nil || a.FinishedAt.Before(*a.StartedAt) {
			e.t.Errorf("approval %d: started %v, finished %v", a.ID, a.StartedAt, a.FinishedAt)
		}
	}
	if slices.Sort(took); len(took) > 0 {
		e.t.Logf("claim to outcome of an applied approval: p50 %v, p90 %v, max %v", took[len(took)/2].Round(time.Millisecond),
			took[len(took)*9/10].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	return succeeded
}

// checkFloodApplies checks the applies the replicas made: one per approval
// with the current token, none for stale ones, as many per stack as it has
// succeeded approvals, never two of one stack at once.
func checkFloodApplies(t *testing.T, ledger *applyLedger, perStack stackApplies, all []floodApproval, succeeded map[int64]int) {
	t.Helper()
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for _, f := range all {
		n := ledger.perApproval[f.id]
		switch {
		case f.stale && n != 0:
			t.Errorf("stale approval %d was applied %d times", f.id, n)
		case !f.stale && n != 1:
			t.Errorf("approval %d was applied %d times, want exactly once", f.id, n)
		}
	}
	for id, n := range ledger.maxInFlight {
		if n != 1 {
			t.Errorf("stack %d: %d applies ran at once", id, n)
		}
	}
	perStack.mu.Lock()
	defer perStack.mu.Unlock()
	for _, f := range all {
		if perStack.n[f.stack.ID] != succeeded[f.stack.ID] {
			t.Errorf("stack %s: %d applies for %d succeeded approvals", f.stack.Name, perStack.n[f.stack.ID], succeeded[f.stack.ID])
			return
		}
	}
}

// waitApprovalsFinal waits until no approval of the database is pending
// or applying, at most until start+bound, and returns the counts per
// status.
func (e *env) waitApprovalsFinal(start time.Time, bound time.Duration) map[string]int {
	e.t.Helper()
	for {
		counts, err := e.store.ApprovalCounts(e.t.Context())
		if err == nil && counts[string(approval.Pending)]+counts[string(approval.Applying)] == 0 {
			return counts
		}
		if time.Since(start) > bound {
			e.t.Fatalf("approvals not final within %v: %v (err %v)", bound, counts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
