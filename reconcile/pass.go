package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// passResult tells the worker when a stack comes back, as a controller's
// reconcile result does: requeueAfter > 0 asks for another pass after that
// delay without counting a failure (the stack's lock was busy). An error
// instead asks for a retry with backoff.
type passResult struct {
	requeueAfter time.Duration
}

// reconcileStack is one worker pass over one stack, as a short list of
// named steps, each ending with a typed outcome:
//
//	finish   record outcomes of earlier applies the database did not take
//	observe  read the stack and the installation afresh, snapshot the
//	         engine and plan (observation: planned, gone, or why not)
//	derive   the stack's status and condition (newStatus, condition)
//	record   keep the status and write it when it changed
//	act      take the stack's lock, then claim and apply its pending
//	         approvals (actOutcome: idle, applied, failed, busy, draining)
//
// Approvals of a stack deleted after they were filed are handled too: they
// end stale.
func (c *Controller) reconcileStack(ctx context.Context, id int64) (passResult, error) {
	if err := c.retryFinishes(ctx, id); err != nil {
		return passResult{}, err
	}
	if err := c.refreshStatus(ctx, id); err != nil {
		return passResult{}, err
	}
	return c.act(ctx, id)
}

// observeOutcome is how the observe step ended.
type observeOutcome int

const (
	// planned: the stack was read, observed and planned.
	planned observeOutcome = iota
	// stackGone: the stack no longer exists.
	stackGone
	// desiredUnavailable: the stack or the installation could not be read
	// (the database): no status is derived.
	desiredUnavailable
	// engineUnavailable: the engine could not be observed: the stack's
	// status is Error.
	engineUnavailable
	// unplannable: the plan could not be computed: the stack's status is
	// Error.
	unplannable
	// shuttingDown: the pass was cut off by the controller's shutdown.
	shuttingDown
)

// observation is what the observe step learned about one stack.
type observation struct {
	outcome observeOutcome
	desired plan.Desired
	plan    *plan.Plan
	err     error
}

// passError is the error a pass that could not plan the stack returns.
func (o observation) passError() error {
	if o.outcome == unplannable {
		return fmt.Errorf("plan stack %q: %w", o.desired.Stack.Name, o.err)
	}
	return o.err
}

// observe reads one stack and the installation, snapshots the engine and
// plans the stack, keeping the database and engine health gauges.
func (c *Controller) observe(ctx context.Context, id int64) observation {
	d, err := c.d.Planner.DesiredByID(ctx, id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return observation{outcome: stackGone, err: err}
	case ctx.Err() != nil:
		return observation{outcome: shuttingDown, err: ctx.Err()} // not a database problem
	case err != nil:
		c.metrics.setDatabaseUp(false)
		return observation{outcome: desiredUnavailable, err: err}
	}
	c.metrics.setDatabaseUp(true)
	// A status may come from the observer's cache kept by engine events
	// (deploy.FromEvents): an event's pass then costs the same whatever
	// else the engine holds.
	p, err := c.d.Planner.Plan(deploy.FromEvents(ctx), d)
	if ctx.Err() != nil {
		return observation{outcome: shuttingDown, desired: d, err: ctx.Err()} // not an engine problem
	}
	engineDown := planner.StageOf(err) == planner.StageObserve
	if !errors.Is(err, deploy.ErrUnknownEngine) {
		c.metrics.setRuntimeUp(c.engineOf(d.Stack), !engineDown)
	}
	switch {
	case engineDown:
		return observation{outcome: engineUnavailable, desired: d, err: err}
	case err != nil:
		return observation{outcome: unplannable, desired: d, err: err}
	}
	return observation{outcome: planned, desired: d, plan: p}
}

// refreshStatus is the observe, derive and record steps: it observes one
// stack and records its status; a stack that no longer exists is forgotten
// (nil: its approvals are still acted on, and end stale). It also serves
// after an apply while the controller drains, when the queue takes nothing.
func (c *Controller) refreshStatus(ctx context.Context, id int64) error {
	o := c.observe(ctx, id)
	switch o.outcome {
	case stackGone:
		c.forget(id)
		return nil
	case desiredUnavailable, shuttingDown:
		return o.err
	}
	if o.outcome == planned && c.finalizeIfRemoved(ctx, o.desired.Stack, o.plan, false) {
		return nil
	}
	c.recordStatuses(ctx, []state.StackStatus{newStatus(o.desired.Stack, o.plan, o.err, false, c.o.Now())})
	if o.err != nil {
		return o.passError()
	}
	return nil
}

// fullPass plans every stack with a bounded number of queries and engine
// calls (independent of the number of stacks), records what changed,
// sweeps approvals and enqueues stacks that have pending approvals.
func (c *Controller) fullPass(ctx context.Context) {
	start := c.o.Now()
	stacks, in, err := c.d.Planner.All(ctx)
	if ctx.Err() != nil {
		return // shutting down: a pass cut short is not a failure
	}
	if err != nil {
		c.metrics.setDatabaseUp(false)
		c.metrics.observeReconcile("error", c.o.Now().Sub(start))
		c.log.Warn("full pass: cannot read desired state; retrying at the next resync", zap.NamedError("err", err))
		return
	}
	c.metrics.setDatabaseUp(true)
	c.sweepApprovals(ctx)
	pending, applying, err := c.d.Sweeper.ActiveApprovalStacks(ctx)
	if err != nil {
		c.log.Warn("full pass: cannot list active approvals", zap.NamedError("err", err))
	}
	isApplying := map[int64]bool{}
	for _, id := range applying {
		isApplying[id] = true
	}
	now := c.o.Now()
	statuses := make([]state.StackStatus, 0, len(stacks))
	snap, snapErr := c.d.Planner.SnapshotOf(ctx, stacks)
	if ctx.Err() != nil {
		return // shutting down: the engine is not at fault
	}
	for _, e := range c.o.Engines {
		c.metrics.setRuntimeUp(e, snapErr == nil && snap.EngineDown(e) == nil)
	}
	if snapErr == nil {
		c.countOrphans(ctx, snap)
	}
	for _, s := range stacks {
		var p *plan.Plan
		err := snapErr
		if err == nil {
			p, err = c.d.Planner.Compute(plan.Desired{Stack: s, Paths: in}, snap)
		}
		if err == nil && c.finalizeIfRemoved(ctx, s, p, isApplying[s.ID]) {
			continue
		}
		statuses = append(statuses, newStatus(s, p, err, isApplying[s.ID], now))
	}
	// A full pass offers every status to the database again: the store
	// updates only rows whose content differs, and a write it dropped
	// earlier (while another controller's approval of the stack was
	// applying) is not remembered as written forever.
	c.mu.Lock()
	clear(c.written)
	c.mu.Unlock()
	c.recordStatuses(ctx, statuses)
	c.retain(stacks)
	if ctx.Err() == nil {
		c.firstPassOnce.Do(func() {
			close(c.firstPass)
			c.log.Info("first full pass done", zap.Int("stacks", len(stacks)), zap.Duration("took", c.o.Now().Sub(start)))
		})
	}
	for _, id := range pending {
		c.queue.Add(id)
	}
	result := "success"
	if snapErr != nil {
		result = "error"
		c.log.Warn("full pass: cannot observe containers; stacks marked Error", zap.NamedError("err", snapErr))
	}
	for _, e := range c.o.Engines {
		if err := snap.EngineDown(e); err != nil {
			result = "error"
			c.log.Warn("full pass: cannot observe an engine; its stacks marked Error", zap.String("engine", e), zap.NamedError("err", err))
		}
	}
	c.metrics.observeReconcile(result, c.o.Now().Sub(start))
}

// sweepApprovals expires stale pending approvals, marks approvals of dead
// controllers interrupted and refreshes the approval metrics.
func (c *Controller) sweepApprovals(ctx context.Context) {
	n, err := c.d.Sweeper.ExpireApprovals(ctx)
	if ctx.Err() != nil {
		return // shutting down
	}
	if err != nil {
		c.log.Warn("expire approvals", zap.NamedError("err", err))
	} else if n > 0 {
		c.log.Info("approvals expired", zap.Int64("count", n))
		for i := int64(0); i < n; i++ {
			c.metrics.observeApply(string(approval.Expired), nil)
		}
	}
	// Outcomes this controller knows but could not record go first, so the
	// sweep does not call their approvals interrupted.
	if err := c.retryFinishes(ctx, 0); err != nil && ctx.Err() == nil {
		c.log.Warn("record kept approval outcomes", zap.NamedError("err", err))
	}
	stacks, err := c.d.Sweeper.InterruptOrphanedApprovals(ctx, lock.Namespace, c.o.InterruptGrace)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		c.log.Warn("sweep interrupted approvals", zap.NamedError("err", err))
	} else if len(stacks) > 0 {
		c.log.Warn("approvals interrupted: the controller applying them was lost during the apply", zap.Int("count", len(stacks)))
		for _, id := range stacks {
			c.metrics.observeApply(string(approval.Interrupted), nil)
			c.queue.Add(id) // plan the stack again
		}
		// The dead controller's "Applying" rows are still stored, and the
		// store dropped this controller's writes for those stacks while
		// they were applying: write every status again (rows whose content
		// is unchanged are not touched).
		c.mu.Lock()
		clear(c.written)
		c.mu.Unlock()
	}
	if c.d.Counter != nil {
		if counts, err := c.d.Counter.ApprovalCounts(ctx); err == nil {
			c.metrics.setApprovals(counts)
		}
	}
}

// recordStatuses keeps the latest statuses in memory and in metrics, and
// writes those that differ (beyond their reconcile time) from what this
// controller last wrote to the database.
func (c *Controller) recordStatuses(ctx context.Context, statuses []state.StackStatus) {
	for i := range statuses {
		if statuses[i].Engine == "" {
			statuses[i].Engine = c.o.DefaultEngine
		}
	}
	var changed []state.StackStatus
	c.mu.Lock()
	for _, st := range statuses {
		if prev, ok := c.written[st.StackID]; !ok || !sameStatus(prev, st) {
			changed = append(changed, st)
		}
		if old, ok := c.names[st.StackID]; ok && old != st.Stack {
			c.metrics.deleteStack(old)
		}
		c.statuses[st.StackID] = st
		c.names[st.StackID] = st.Stack
	}
	c.mu.Unlock()
	for _, st := range statuses {
		c.metrics.setStackStatus(st)
	}
	if len(changed) == 0 || ctx.Err() != nil {
		return // nothing new, or shutting down (the next controller writes)
	}
	err := c.d.Statuses.WriteStackStatuses(ctx, changed)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range changed {
		if err != nil {
			delete(c.written, st.StackID) // write again next time
		} else if _, live := c.names[st.StackID]; live {
			c.written[st.StackID] = st
		}
	}
	if err != nil {
		c.log.Warn("write stack statuses", zap.Int("count", len(changed)), zap.NamedError("err", err))
	}
}

// forget drops a stack that no longer exists.
func (c *Controller) forget(id int64) {
	c.mu.Lock()
	name, ok := c.names[id]
	delete(c.statuses, id)
	delete(c.written, id)
	delete(c.names, id)
	c.mu.Unlock()
	if ok {
		c.metrics.deleteStack(name)
	}
}

// retain drops every stack not among the live ones.
func (c *Controller) retain(live []spec.Stack) {
	keep := make(map[int64]bool, len(live))
	names := make([]string, 0, len(live))
	for _, s := range live {
		keep[s.ID] = true
		names = append(names, s.Name)
	}
	c.mu.Lock()
	for id := range c.statuses {
		if !keep[id] {
			delete(c.statuses, id)
			delete(c.written, id)
			delete(c.names, id)
		}
	}
	c.mu.Unlock()
	c.metrics.retainStacks(names)
}
