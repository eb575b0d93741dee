package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// User-facing messages of approval outcomes.
const (
	MessageStale = approval.MessageStale
	// MessageShutdown is the outcome of an apply cut off because the
	// controller's shutdown timeout ran out.
	MessageShutdown = "The controller stopped before the apply finished (its shutdown timeout ran out); the stack may be partly applied. Generate a new plan and apply it again."
	// MessageLockLost is the outcome (failed) of an apply stopped because
	// the database session holding the stack's lock ended (PostgreSQL
	// restarted, the connection cut or silent) while it ran; %s is the
	// phase it stopped in.
	MessageLockLost = "Apply stopped in the %s phase: the controller lost the stack's lock (its database session ended), so no further phase ran; the stack may be partly applied. Generate a new plan and apply it again."
	// MessageNoStart is the outcome (failed) of an approval that could not
	// be started because the database did not answer.
	MessageNoStart = "The controller could not read the stack or record the apply's start (the database did not answer); nothing was applied. Apply again."
)

// finishTimeout bounds recording an approval's outcome, which runs even
// when the apply was cut off by the shutdown timeout.
const finishTimeout = 10 * time.Second

// errApplyFailed is handleApproval's report that the apply failed and its
// outcome was recorded.
var errApplyFailed = errors.New("apply failed")

// outcome is how an approval ended, as it is recorded.
type outcome struct {
	status  approval.Status
	message string
	result  *deploy.Result
	// applyFailed: the apply ran and failed; the stack is planned again
	// before its next approval is claimed.
	applyFailed bool
	// none: the approval is no longer this controller's to finish (a sweep
	// ended it): record nothing.
	none bool
	// removed: the apply removed a deleted stack; once the outcome is
	// recorded the stack is finalised (see finalize).
	removed bool
}

// unfinished is an outcome the database did not take: it is written again
// before the stack's next reconcile and before every sweep, so that the
// approval ends with what really happened rather than stay applying.
type unfinished struct {
	approval approval.Approval
	out      outcome
}

// actOutcome is how the act step ended.
type actOutcome int

const (
	// idle: no approval of the stack is pending.
	idle actOutcome = iota
	// applyFailed: an apply ran and failed; the stack is planned again
	// (afterApply queued it) before its next approval is claimed.
	applyFailed
	// lockBusy: another session holds the stack's lock; the approval
	// stays pending and the stack comes back after Options.LockRetry.
	lockBusy
	// draining: the controller stopped taking approvals.
	draining
)

// act applies the stack's pending approvals one at a time: it takes the
// stack's lock, claims the oldest pending approval and applies it, until
// none is left, an apply failed, the lock is busy, or the controller
// drains. The lock comes first, so an approval is claimed only when it can
// be applied at once: while another session holds the lock (an apply of
// another replica, an operator), the approval stays pending and the stack
// is requeued after a delay; nothing sleeps in the worker. After a failed
// apply the stack is planned again before its next approval is claimed:
// when the engine is down, that reconcile fails and the approvals wait,
// pending, instead of all failing at once.
func (c *Controller) act(ctx context.Context, stackID int64) (passResult, error) {
	out, err := c.applyPending(ctx, stackID)
	if out == lockBusy {
		return passResult{requeueAfter: c.o.LockRetry}, nil
	}
	return passResult{}, err
}

func (c *Controller) applyPending(ctx context.Context, stackID int64) (actOutcome, error) {
	for {
		if c.isDraining() {
			return draining, nil
		}
		pending, err := c.d.Approvals.HasPendingApproval(ctx, stackID)
		if err != nil || !pending {
			return idle, err
		}
		lease, err := c.d.Locker.TryLock(c.applyCtx, stackID)
		if errors.Is(err, lock.ErrHeld) {
			c.metrics.lockConflict()
			c.log.Info("stack's lock is held by another session; its pending approval waits",
				zap.Int64("stack_id", stackID), zap.Duration("retry_in", c.o.LockRetry), zap.NamedError("err", err))
			return lockBusy, nil
		}
		if err != nil {
			return idle, fmt.Errorf("lock stack %d: %w", stackID, err)
		}
		// The claim must not be cut off by a shutdown: the row could be
		// claimed with nobody to apply it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		a, err := c.d.Approvals.ClaimApproval(cctx, stackID, c.o.ReplicaID)
		cancel()
		if err != nil || a == nil {
			c.unlock(lease)
			return idle, err
		}
		err = c.handleApproval(*a, lease)
		if errors.Is(err, errApplyFailed) {
			return applyFailed, nil
		}
		if err != nil {
			return idle, err
		}
	}
}

// unlock releases a lease that applied nothing.
func (c *Controller) unlock(lease *lock.Lease) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.applyCtx), finishTimeout)
	defer cancel()
	if err := lease.Unlock(ctx); err != nil {
		c.log.Warn("release an unused stack lock", zap.NamedError("err", err))
	}
}

// handleApproval applies one claimed approval under lease, the stack's
// lock: recompute the token → apply → check the apply → record the
// outcome and release the lock in one transaction → plan the stack again.
// It runs on applyCtx, which outlives a shutdown request by
// ShutdownTimeout.
func (c *Controller) handleApproval(a approval.Approval, lease *lock.Lease) error {
	ctx := c.applyCtx
	log := c.log.With(zap.String("stack", a.Stack), zap.Int64("approval_id", a.ID))
	out := c.applyLocked(ctx, a, lease, log)
	err := c.record(a, lease, out, log)
	if err == nil && out.removed {
		c.finalize(ctx, a.StackID, log)
	}
	c.afterApply(a.StackID) // the lock is released: plan again
	if err != nil {
		return err
	}
	if out.applyFailed {
		return errApplyFailed
	}
	return nil
}

// applyLocked runs an approval whose stack lock is held, and says how it
// ended.
func (c *Controller) applyLocked(ctx context.Context, a approval.Approval, lease *lock.Lease, log *zap.Logger) outcome {
	if err := c.d.Approvals.MarkApprovalLocked(ctx, a.ID, lease.BackendPID()); err != nil {
		if errors.Is(err, state.ErrNotApplying) {
			log.Info("approval was ended elsewhere before the apply started", zap.NamedError("err", err))
			return outcome{none: true}
		}
		log.Warn("cannot record the apply's start", zap.NamedError("err", err))
		return outcome{status: approval.Failed, message: MessageNoStart}
	}
	d, err := c.d.Planner.DesiredByID(ctx, a.StackID)
	if errors.Is(err, state.ErrNotFound) {
		return outcome{status: approval.Stale, message: "The stack was deleted after the plan was generated; nothing was applied."}
	}
	if err != nil {
		log.Warn("cannot read the stack or the installation", zap.NamedError("err", err))
		return outcome{status: approval.Failed, message: MessageNoStart}
	}
	s, in := d.Stack, d.Paths
	if plan.Token(d) != a.Token {
		log.Info("approval is stale: the stack or the installation changed since its plan")
		return outcome{status: approval.Stale, message: MessageStale}
	}
	c.recordStatuses(ctx, []state.StackStatus{c.applyingStatus(s, in)})
	check := c.predict(ctx, d, log)
	log.Info("applying approved plan")
	// The state directory is a name too: it appears in engine errors about
	// bind mounts and config files.
	scrub := spec.NewScrubber(s.SecretValues(), append(s.Identifiers(), in.StateDir, in.WorkspaceDir))
	watch := watchLease(ctx, lease)
	opts := c.applyOptions(in)
	opts.ApprovalID = a.ID
	opts.BeforePhase = func(ctx context.Context, _ string) error { return watch.Confirm(ctx) }
	res, applyErr := c.d.Applier.Apply(watch.ctx, s, opts, c.progressRecorder(ctx, a.ID, scrub, log))
	lockLost := watch.Stop() || errors.Is(applyErr, errLockLost)
	if applyErr == nil {
		out := outcome{status: approval.Succeeded, message: successMessage(res), result: &res, removed: s.Deleting}
		if ms := check.verify(ctx); len(ms) > 0 {
			res.Mismatches = ms
			out.message = successMessage(res) + " " + plan.SummarizeMismatches(ms)
			for _, m := range ms {
				c.metrics.applyMismatch(m.Kind)
			}
			log.Warn("the engine after the apply differs from what its plan predicted", zap.Int("mismatches", len(ms)),
				zap.String("message", out.message))
		}
		return out
	}
	res.ComposeOutput = scrub.Scrub(res.ComposeOutput)
	scrubbed := zap.NamedError("err", errors.New(scrub.Scrub(applyErr.Error())))
	switch {
	case lockLost:
		phase := "apply"
		var ae *deploy.ApplyError
		if errors.As(applyErr, &ae) {
			phase = ae.Phase
		}
		log.Warn("stack lock lost during the apply (database session ended); apply stopped", zap.String("phase", phase), scrubbed)
		return outcome{status: approval.Failed, message: fmt.Sprintf(MessageLockLost, phase), result: &res, applyFailed: true}
	case ctx.Err() != nil:
		log.Warn("apply cut off by the shutdown timeout", scrubbed)
		return outcome{status: approval.Interrupted, message: MessageShutdown, result: &res}
	}
	msg := failureMessage(applyErr, scrub)
	log.Warn("apply failed", zap.String("message", msg))
	return outcome{status: approval.Failed, message: msg, result: &res, applyFailed: true}
}

// applyCheck is what an apply is checked against afterwards: the plan
// computed under the stack's lock right before it, and the engine it was
// computed against.
type applyCheck struct {
	c         *Controller
	desired   plan.Desired
	before    deploy.Snapshot
	predicted *plan.Plan
	log       *zap.Logger
}

// predict plans the stack under its lock right before the apply, for the
// check after it. When the engine cannot be observed or the stack cannot be
// planned, the apply is not checked (nil): the apply itself reports the
// engine's trouble.
func (c *Controller) predict(ctx context.Context, d plan.Desired, log *zap.Logger) *applyCheck {
	before, err := c.d.Planner.SnapshotStack(ctx, d.Stack)
	if err == nil {
		var p *plan.Plan
		if p, err = c.d.Planner.Compute(d, before); err == nil {
			return &applyCheck{c: c, desired: d, before: before, predicted: p, log: log}
		}
	}
	log.Info("cannot plan the stack before the apply; the apply is not checked afterwards", zap.NamedError("err", err))
	return nil
}

// verify compares what the engine reports right after a successful apply
// with what the plan predicted (plan.Verify): every change carried out,
// nothing else touched, a fresh plan empty.
func (k *applyCheck) verify(ctx context.Context) []plan.Mismatch {
	if k == nil {
		return nil
	}
	c := k.c
	if c.o.BeforeVerify != nil {
		c.o.BeforeVerify(ctx, k.desired.Stack)
	}
	after, err := c.d.Planner.SnapshotStack(ctx, k.desired.Stack)
	var fresh *plan.Plan
	if err == nil {
		fresh, err = c.d.Planner.Compute(k.desired, after)
	}
	if err != nil {
		k.log.Info("cannot observe the engine after the apply; the apply is not checked", zap.NamedError("err", err))
		return nil
	}
	s := k.desired.Stack
	return plan.Verify(k.desired, k.predicted, k.before.For(s), after.For(s), fresh)
}

// record writes an approval's outcome. With a lease, the outcome is
// written in the transaction that releases the stack's lock, so that the
// lock is free by the time anyone sees the approval finished; when that
// fails (the lock's session is gone), it is written through the pool.
// When the database takes neither, the outcome is kept and written again
// later (retryFinishes); the approval is not left applying for a sweep to
// guess at while this controller knows how it ended.
func (c *Controller) record(a approval.Approval, lease *lock.Lease, out outcome, log *zap.Logger) error {
	// Record the outcome even when the shutdown timeout cancelled applyCtx.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.applyCtx), finishTimeout)
	defer cancel()
	if lease != nil {
		err := lease.Release(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if out.none {
				return nil
			}
			return c.d.Approvals.FinishApprovalTx(ctx, tx, a.ID, out.status, out.message, out.resultValue())
		})
		if out.none {
			return nil
		}
		if err == nil {
			c.observeOutcome(out)
			return nil
		}
		log.Debug("recording the outcome with the lock's release failed; recording it on its own", zap.NamedError("err", err))
	}
	if out.none {
		return nil
	}
	err := c.d.Approvals.FinishApproval(ctx, a.ID, out.status, out.message, out.resultValue())
	switch {
	case err == nil:
		c.observeOutcome(out)
		return nil
	case errors.Is(err, state.ErrNotApplying):
		log.Info("approval was ended elsewhere (a sweep found its controller gone) before its outcome was recorded",
			zap.String("outcome", string(out.status)), zap.NamedError("err", err))
		return nil
	}
	c.mu.Lock()
	c.unfinished[a.ID] = unfinished{approval: a, out: out}
	c.mu.Unlock()
	log.Warn("cannot record the approval's outcome; it is kept and recorded again", zap.String("outcome", string(out.status)), zap.NamedError("err", err))
	return fmt.Errorf("finish approval %d as %s: %w", a.ID, out.status, err)
}

// observeOutcome counts a recorded outcome in the metrics (once, when the
// database took it).
func (c *Controller) observeOutcome(out outcome) {
	var durations map[string]time.Duration
	if out.result != nil {
		durations = out.result.Durations
	}
	c.metrics.observeApply(string(out.status), durations)
}

func (o outcome) resultValue() any {
	if o.result == nil {
		return nil
	}
	return o.result
}

// retryFinishes writes the kept outcomes of stack stackID's approvals (of
// every stack when stackID is 0). It returns the first error; outcomes it
// could not write stay kept.
func (c *Controller) retryFinishes(ctx context.Context, stackID int64) error {
	c.mu.Lock()
	var todo []unfinished
	for _, u := range c.unfinished {
		if stackID == 0 || u.approval.StackID == stackID {
			todo = append(todo, u)
		}
	}
	c.mu.Unlock()
	var first error
	for _, u := range todo {
		err := c.d.Approvals.FinishApproval(ctx, u.approval.ID, u.out.status, u.out.message, u.out.resultValue())
		// Not applying (a sweep ended it) or gone (deleted with its stack):
		// the outcome can never be recorded; drop it.
		if err != nil && !errors.Is(err, state.ErrNotApplying) && !errors.Is(err, state.ErrNotFound) {
			if first == nil {
				first = fmt.Errorf("finish approval %d as %s: %w", u.approval.ID, u.out.status, err)
			}
			continue
		}
		c.mu.Lock()
		delete(c.unfinished, u.approval.ID)
		c.mu.Unlock()
		log := c.log.With(zap.String("stack", u.approval.Stack), zap.Int64("approval_id", u.approval.ID))
		if err != nil {
			log.Info("kept outcome not recorded: the approval was ended elsewhere", zap.String("outcome", string(u.out.status)), zap.NamedError("err", err))
		} else {
			c.observeOutcome(u.out)
			log.Info("kept outcome recorded", zap.String("outcome", string(u.out.status)))
		}
		c.queue.Add(u.approval.StackID)
	}
	return first
}

// afterApply has the stack planned again once an approval ended and its
// lock was released, so its status leaves Applying. The work queue does
// that, except while the controller drains: the queue takes nothing then,
// so the status is refreshed here.
func (c *Controller) afterApply(stackID int64) {
	if !c.isDraining() {
		c.queue.Add(stackID)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.applyCtx), finishTimeout)
	defer cancel()
	if err := c.refreshStatus(ctx, stackID); err != nil {
		c.log.Warn("refresh status after apply", zap.Int64("stack_id", stackID), zap.NamedError("err", err))
	}
}

// applyingStatus is the status shown while a stack is applied: newStatus
// of an applying stack, with the token being applied and the counts of its
// last plan.
func (c *Controller) applyingStatus(s spec.Stack, in project.Options) state.StackStatus {
	c.mu.Lock()
	prev, ok := c.statuses[s.ID]
	c.mu.Unlock()
	st := newStatus(s, nil, nil, true, c.o.Now())
	st.Token = plan.Token(plan.Desired{Stack: s, Paths: in})
	if ok {
		st.Counts = prev.Counts
	}
	return st
}

// progressRecorder stores each progress event with the approval (which
// announces it for live streaming), scrubbed of secrets.
func (c *Controller) progressRecorder(ctx context.Context, approvalID int64, scrub spec.Scrubber, log *zap.Logger) deploy.ProgressFunc {
	return func(p deploy.Progress) {
		ev := approval.Event{At: p.Time, Container: scrub.Scrub(p.Container), Action: scrub.Scrub(p.Action),
			Status: p.Status, Message: scrub.Scrub(p.Message)}
		if err := c.d.Events.AppendApprovalEvents(ctx, approvalID, []approval.Event{ev}); err != nil {
			log.Warn("store progress event", zap.NamedError("err", err))
		}
	}
}

func failureMessage(err error, scrub spec.Scrubber) string {
	phase := "apply"
	var ae *deploy.ApplyError
	if errors.As(err, &ae) {
		phase, err = ae.Phase, ae.Err // the message names the phase once
	}
	hint := map[string]string{
		deploy.PhaseBuild:   "Nothing was changed. Fix the stack's definition and generate a new plan.",
		deploy.PhaseImages:  "No container was changed (images built before the failure stay tagged). Fix the build and apply again.",
		deploy.PhaseNetwork: "Nothing was changed. Fix the network problem and apply again.",
		deploy.PhaseConfigs: "Nothing was changed and no partial config files were left. Fix the problem and apply again.",
		deploy.PhaseCompose: "Containers already changed stay as they are; config files are kept for debugging. Fix the problem and apply again.",
		deploy.PhaseRemove:  "What was removed before the failure stays removed. Fix the problem and apply the removal again.",
	}[phase]
	text := strings.TrimSpace(scrub.Scrub(err.Error()))
	return fmt.Sprintf("Apply failed in the %s phase: %s. %s", phase, firstLine(text), hint)
}

func successMessage(r deploy.Result) string {
	return fmt.Sprintf("Applied: %d created, %d recreated, %d started, %d restarted, %d removed.",
		len(r.Created), len(r.Recreated), len(r.Started), len(r.Restarted), len(r.Removed))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, ".")
}
