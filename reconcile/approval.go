package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// User-facing messages of approval outcomes.
const (
	MessageConflict = "Stack is being applied by another session."
	MessageStale    = "Plan is stale: the stack changed since the plan was generated. Generate a new plan."
	// MessageShutdown is the outcome of an apply cut off because the
	// controller's shutdown timeout ran out.
	MessageShutdown = "The controller stopped before the apply finished (its shutdown timeout ran out); the stack may be partly applied. Generate a new plan and apply it again."
	// MessageLockLost is the outcome of an apply stopped because the
	// database session holding the stack's lock ended (PostgreSQL
	// restarted, connection cut) while it ran.
	MessageLockLost = "The controller lost its database session, and with it the stack's lock, during the apply, so it stopped the apply; the stack may be partly applied. Generate a new plan and apply it again."
)

// lockRetryDelays are the waits before retrying a stack lock found held,
// before the approval is called a conflict (1.6 s in all). A replica that
// finished an approval records the outcome before it unlocks (so that the
// sweep never takes a finished apply for an interrupted one); a replica
// that claims the stack's next approval in that window of one round trip
// finds the lock still held, and must not report a conflict for it. This
// is the one place the loop waits for a lock, bounded, and only after the
// claim made the approval its own.
var lockRetryDelays = []time.Duration{
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
}

// finishTimeout bounds recording an approval's outcome, which runs even
// when the apply was cut off by the shutdown timeout.
const finishTimeout = 10 * time.Second

// errApplyFailed is handleApproval's report that the apply failed and its
// outcome was recorded.
var errApplyFailed = errors.New("apply failed")

// processApprovals claims and applies the stack's pending approvals one
// at a time, until none is left, an apply failed, or the controller
// drains. After a failed apply the stack is planned again (afterApply
// queued it) before its next approval is claimed: when the engine is down,
// that reconcile fails and the approvals wait, pending, instead of all
// failing at once.
func (c *Controller) processApprovals(ctx context.Context, stackID int64) error {
	for !c.isDraining() {
		a, err := c.d.Approvals.ClaimApproval(ctx, stackID, c.o.ReplicaID)
		if err != nil {
			return err
		}
		if a == nil {
			return nil
		}
		err = c.handleApproval(*a)
		if errors.Is(err, errApplyFailed) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// handleApproval applies one claimed approval: lock → recompute token →
// apply → finish. It runs on applyCtx, which outlives a shutdown request
// by ShutdownTimeout. The lock is always released before it returns. It
// returns errApplyFailed after recording a failed apply.
func (c *Controller) handleApproval(a state.Approval) error {
	ctx := c.applyCtx
	log := c.log.With(zap.String("stack", a.Stack), zap.Int64("approval_id", a.ID))
	lease, err := c.tryLock(ctx, a.StackID)
	if errors.Is(err, lock.ErrHeld) {
		c.d.Metrics.IncLockConflicts()
		log.Info("approval conflicts with another session holding the stack's lock")
		return c.finish(ctx, a, state.ApprovalConflict, MessageConflict, nil, nil)
	}
	if err != nil {
		// The approval stays applying without a lock; the sweep marks it
		// interrupted after the grace period if this keeps failing.
		return fmt.Errorf("lock stack %q: %w", a.Stack, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := lease.Unlock(uctx); err != nil {
			log.Warn("unlock stack", zap.NamedError("err", err))
		}
	}()
	if err := c.d.Approvals.MarkApprovalLocked(ctx, a.ID, lease.BackendPID()); err != nil {
		return err
	}
	s, err := c.d.Desired.StackByID(ctx, a.StackID)
	if errors.Is(err, state.ErrNotFound) {
		return c.finish(ctx, a, state.ApprovalStale, "The stack was deleted after the plan was generated; nothing was applied.", nil, nil)
	}
	if err != nil {
		return fmt.Errorf("read stack %q: %w", a.Stack, err)
	}
	if plan.Token(s) != a.Token {
		log.Info("approval is stale: the stack changed since its plan")
		return c.finish(ctx, a, state.ApprovalStale, MessageStale, nil, nil)
	}
	c.recordStatuses(ctx, []state.StackStatus{c.applyingStatus(s)})
	log.Info("applying approved plan")
	secrets := s.SecretValues()
	actx, stopWatch := watchLease(ctx, lease)
	opts := c.applyOptions()
	opts.ApprovalID = a.ID
	res, applyErr := c.d.Applier.Apply(actx, s, opts, c.progressRecorder(ctx, a.ID, secrets, log))
	lockLost := stopWatch()
	defer c.afterApply(a.StackID) // plan again: InSync, or what is left
	if applyErr != nil {
		res.ComposeOutput = spec.Scrub(res.ComposeOutput, secrets)
		if lockLost {
			log.Warn("stack lock lost during the apply (database session ended); apply stopped", zap.NamedError("err", applyErr))
			err := c.finish(ctx, a, state.ApprovalInterrupted, MessageLockLost, &res, res.Durations)
			if errors.Is(err, state.ErrNotApplying) {
				return nil // a sweep already called it interrupted
			}
			return err
		}
		if ctx.Err() != nil {
			log.Warn("apply cut off by the shutdown timeout", zap.NamedError("err", errors.New(spec.Scrub(applyErr.Error(), secrets))))
			return c.finish(ctx, a, state.ApprovalInterrupted, MessageShutdown, &res, res.Durations)
		}
		msg := failureMessage(applyErr, secrets)
		log.Warn("apply failed", zap.String("message", msg))
		if err := c.finish(ctx, a, state.ApprovalFailed, msg, &res, res.Durations); err != nil {
			return err
		}
		return errApplyFailed
	}
	return c.finish(ctx, a, state.ApprovalSucceeded, successMessage(res), &res, res.Durations)
}

// tryLock takes the stack's lock, retrying after lockRetryDelays while
// another session holds it. It returns the last attempt's outcome.
func (c *Controller) tryLock(ctx context.Context, stackID int64) (*lock.Lease, error) {
	lease, err := c.d.Locker.TryLock(ctx, stackID)
	for _, d := range c.lockRetry {
		if !errors.Is(err, lock.ErrHeld) || !sleep(ctx, d) {
			break
		}
		lease, err = c.d.Locker.TryLock(ctx, stackID)
	}
	return lease, err
}

// afterApply has the stack planned again once an apply ended, so its
// status leaves Applying. The work queue does that, except while the
// controller drains: the queue takes nothing then, so the status is
// refreshed here, before the stack's lock is released.
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

// applyingStatus is the status shown while a stack is applied.
func (c *Controller) applyingStatus(s spec.Stack) state.StackStatus {
	c.mu.Lock()
	prev, ok := c.statuses[s.ID]
	c.mu.Unlock()
	st := state.StackStatus{StackID: s.ID, Stack: s.Name, Condition: Applying, Token: plan.Token(s), Message: "Applying an approved plan.",
		LastReconcile: c.o.Now(), Counts: map[string]int{"add": 0, "modify": 0, "remove": 0}}
	if ok {
		st.Counts = prev.Counts
	}
	return st
}

// finish records an approval's outcome and its metrics.
func (c *Controller) finish(ctx context.Context, a state.Approval, status, message string, res *deploy.Result, durations map[string]time.Duration) error {
	var result any
	if res != nil {
		result = res
	}
	c.d.Metrics.ObserveApply(status, durations)
	// Record the outcome even when the shutdown timeout cancelled ctx.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := c.d.Approvals.FinishApproval(ctx, a.ID, status, message, result); err != nil {
		return fmt.Errorf("finish approval %d as %s: %w", a.ID, status, err)
	}
	return nil
}

// progressRecorder stores each progress event with the approval (which
// announces it for live streaming), scrubbed of secrets.
func (c *Controller) progressRecorder(ctx context.Context, approvalID int64, secrets []string, log *zap.Logger) deploy.ProgressFunc {
	return func(p deploy.Progress) {
		ev := state.ApprovalEvent{At: p.Time, Container: spec.Scrub(p.Container, secrets), Action: spec.Scrub(p.Action, secrets),
			Status: p.Status, Message: spec.Scrub(p.Message, secrets)}
		if err := c.d.Events.AppendApprovalEvents(ctx, approvalID, []state.ApprovalEvent{ev}); err != nil {
			log.Warn("store progress event", zap.NamedError("err", err))
		}
	}
}

func failureMessage(err error, secrets []string) string {
	phase := "apply"
	var ae *deploy.ApplyError
	if errors.As(err, &ae) {
		phase, err = ae.Phase, ae.Err // the message names the phase once
	}
	hint := map[string]string{
		deploy.PhaseBuild:   "Nothing was changed. Fix the stack's definition and generate a new plan.",
		deploy.PhaseNetwork: "Nothing was changed. Fix the network problem and apply again.",
		deploy.PhaseConfigs: "Nothing was changed and no partial config files were left. Fix the problem and apply again.",
		deploy.PhaseCompose: "Containers already changed stay as they are; config files are kept for debugging. Fix the problem and apply again.",
	}[phase]
	text := strings.TrimSpace(spec.Scrub(err.Error(), secrets))
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
