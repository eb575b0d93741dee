package filing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// Why File refuses a request. Test with errors.Is; each is wrapped with
// the stack's name.
var (
	// ErrTokenRequired: no staleness token was given.
	ErrTokenRequired = errors.New("no plan token was given; send the token of the plan you approve")
	// ErrStackNotFound: no live stack has that name.
	ErrStackNotFound = errors.New("the stack does not exist; list the stacks")
	// ErrStale: the stack or the installation changed since the plan the
	// token belongs to.
	ErrStale = errors.New("the plan is stale: the stack changed since the plan was generated; generate a new plan")
	// ErrApplying: another session is applying the stack.
	ErrApplying = errors.New("the stack is being applied by another session; wait for that apply to end and generate a new plan")
	// ErrStackDeleted: the stack was deleted while the approval was filed.
	ErrStackDeleted = errors.New("the stack was deleted while the approval was filed; list the stacks")
)

// PlanError says the fresh plan could not be computed. Message is the
// planner's error with the stack's secret values scrubbed (see
// spec.Scrubber); the planner's own error is not kept, so nothing unwraps
// to a secret.
type PlanError struct {
	Stack   string
	Message string
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("plan stack %q: %s", e.Stack, e.Message)
}

// StepError says a step of filing failed for a reason that is not the
// request's fault (the database did not answer, for one). Step names it as
// "read the stack", "read the installation", "check whether the stack is
// being applied", "encode the plan" or "file the approval".
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// DesiredReader reads a stack and the installation its plan and token are
// computed with (implemented by *state.Store). Stack's error wraps
// state.ErrNotFound when no live stack has the name.
type DesiredReader interface {
	Stack(ctx context.Context, name string) (spec.Stack, error)
	Installation(ctx context.Context) (project.Options, error)
}

// LockLister lists the sessions holding or waiting for stack locks
// (implemented by *lock.Locker).
type LockLister interface {
	Holders(ctx context.Context) ([]lock.Holder, error)
}

// ApplyingLister tells which stacks have an approval applying
// (implemented by *state.Store).
type ApplyingLister interface {
	ActiveApprovalStacks(ctx context.Context) (pending, applying []int64, err error)
}

// Creator records a pending approval (implemented by *state.Store). Its
// error wraps state.ErrNotFound when the stack is gone.
type Creator interface {
	CreateApproval(ctx context.Context, stackID int64, token string, plan []byte, requestedBy string, ttl time.Duration) (approval.Approval, error)
}

// Planner computes a fresh, redacted plan of a stack against what runs
// now.
type Planner interface {
	Plan(ctx context.Context, d plan.Desired) (*plan.Plan, error)
}

// PlannerFunc adapts a function to Planner.
type PlannerFunc func(ctx context.Context, d plan.Desired) (*plan.Plan, error)

// Plan calls f.
func (f PlannerFunc) Plan(ctx context.Context, d plan.Desired) (*plan.Plan, error) { return f(ctx, d) }

// Deps are what File reads and writes through. All but Logger are
// required; a nil Logger logs nothing.
type Deps struct {
	Desired   DesiredReader
	Locks     LockLister
	Applying  ApplyingLister
	Approvals Creator
	Planner   Planner
	Logger    *zap.Logger
}

// Filer files approvals.
type Filer struct {
	d   Deps
	ttl time.Duration
	log *zap.Logger
}

// New returns a Filer whose approvals expire ttl after they are filed (ttl
// <= 0: never). It panics when a required dependency is missing, as that
// is a wiring mistake.
func New(d Deps, ttl time.Duration) *Filer {
	if d.Desired == nil || d.Locks == nil || d.Applying == nil || d.Approvals == nil || d.Planner == nil {
		panic("filing.New: Deps.Desired, Locks, Applying, Approvals and Planner are required")
	}
	log := d.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Filer{d: d, ttl: ttl, log: log}
}

// File files a pending approval of stack's current plan on behalf of who,
// after the checks of the package documentation, and logs "approval
// filed". token is the staleness token of the plan the user approved. The
// error wraps ErrTokenRequired, ErrStackNotFound, ErrStale, ErrApplying or
// ErrStackDeleted when the request is refused, or is a *PlanError or a
// *StepError; nothing is recorded then.
func (f *Filer) File(ctx context.Context, stack, token, who string) (approval.Approval, error) {
	if token == "" {
		return approval.Approval{}, refused(stack, ErrTokenRequired)
	}
	d, err := f.desired(ctx, stack)
	if err != nil {
		return approval.Approval{}, err
	}
	if plan.Token(d) != token {
		return approval.Approval{}, refused(stack, ErrStale)
	}
	if busy, err := f.applying(ctx, d.Stack.ID); err != nil {
		return approval.Approval{}, &StepError{Step: "check whether the stack is being applied", Err: err}
	} else if busy {
		return approval.Approval{}, refused(stack, ErrApplying)
	}
	p, err := f.plan(ctx, d)
	if err != nil {
		return approval.Approval{}, err
	}
	if p.Token != token {
		return approval.Approval{}, refused(stack, ErrStale)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return approval.Approval{}, &StepError{Step: "encode the plan", Err: err}
	}
	a, err := f.d.Approvals.CreateApproval(ctx, d.Stack.ID, token, body, who, f.ttl)
	if errors.Is(err, state.ErrNotFound) {
		return approval.Approval{}, refused(stack, ErrStackDeleted)
	}
	if err != nil {
		return approval.Approval{}, &StepError{Step: "file the approval", Err: err}
	}
	f.log.Info("approval filed", zap.String("stack", d.Stack.Name), zap.Int64("approval_id", a.ID), zap.String("requested_by", a.RequestedBy))
	return a, nil
}

func refused(stack string, why error) error {
	return fmt.Errorf("file approval of stack %q: %w", stack, why)
}

// desired reads the stack and the installation its token is computed with.
func (f *Filer) desired(ctx context.Context, stack string) (plan.Desired, error) {
	st, err := f.d.Desired.Stack(ctx, stack)
	if errors.Is(err, state.ErrNotFound) {
		return plan.Desired{}, refused(stack, ErrStackNotFound)
	}
	if err != nil {
		return plan.Desired{}, &StepError{Step: "read the stack", Err: err}
	}
	in, err := f.d.Desired.Installation(ctx)
	if err != nil {
		return plan.Desired{}, &StepError{Step: "read the installation", Err: err}
	}
	d := plan.Desired{Stack: st, Paths: in}
	if b, ok := f.d.Planner.(BuildReader); ok {
		d = b.WithBuilds(d)
	}
	return d, nil
}

// BuildReader is implemented by a Planner that reads the stack's build
// contexts (planner.Planner): the token of a stack whose instances build
// their image covers the contexts' digests.
type BuildReader interface {
	WithBuilds(d plan.Desired) plan.Desired
}

// applying reports whether a session holds the stack's lock or an approval
// of the stack is applying.
func (f *Filer) applying(ctx context.Context, stackID int64) (bool, error) {
	holders, err := f.d.Locks.Holders(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range holders {
		if h.StackID == stackID && h.Granted {
			return true, nil
		}
	}
	_, applying, err := f.d.Applying.ActiveApprovalStacks(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(applying, stackID), nil
}

// plan computes the fresh plan; its error is a *PlanError with the stack's
// secret values scrubbed.
func (f *Filer) plan(ctx context.Context, d plan.Desired) (*plan.Plan, error) {
	p, err := f.d.Planner.Plan(ctx, d)
	if err == nil && p == nil {
		err = errors.New("the planner returned no plan")
	}
	if err != nil {
		return nil, &PlanError{Stack: d.Stack.Name, Message: d.Stack.Scrubber().Scrub(err.Error())}
	}
	return p, nil
}
