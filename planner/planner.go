// Package planner owns the one way a stack's plan is made: read the
// desired stack and the installation from the database, snapshot the
// engine, and compute the plan with the process's config-hash cache. The
// reconcile loop, the API, the CLI and apply's self-check all plan through
// one Planner value built at startup with its dependencies.
//
// Redaction happens once, inside plan.Compute: every plan a Planner
// returns is safe to show, store and log, and callers never scrub again.
package planner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Desired reads stacks and the installation (implemented by *state.Store).
type Desired interface {
	// Stacks returns every live stack, and every deleting one (its
	// removal not applied yet).
	Stacks(ctx context.Context) ([]spec.Stack, error)
	// Stack returns one live (else deleting) stack by name; StackByID by
	// id. Both wrap state.ErrNotFound when there is none.
	Stack(ctx context.Context, name string) (spec.Stack, error)
	StackByID(ctx context.Context, id int64) (spec.Stack, error)
	// Installation returns the host paths and keys plans, tokens and
	// applies are computed with.
	Installation(ctx context.Context) (project.Options, error)
}

// Observer snapshots the engine (implemented by *deploy.Observer).
type Observer interface {
	Snapshot(ctx context.Context) (deploy.Snapshot, error)
}

// StackObserver is an Observer that can also observe one stack alone, at
// a cost that depends on the stack rather than on the whole engine
// (deploy.Observer.SnapshotStack), and snapshot the engine inspecting
// only the containers of some stacks (deploy.Observer.SnapshotOf). The
// Planner uses both when its Observer has them.
type StackObserver interface {
	Observer
	SnapshotStack(ctx context.Context, st spec.Stack) (deploy.Snapshot, error)
	SnapshotOf(ctx context.Context, want func(stackID int64) bool) (deploy.Snapshot, error)
}

// Stage names the step of planning an error comes from, so callers can
// tell a database outage from an engine outage from a stack that cannot
// be planned.
type Stage string

// Stages.
const (
	StageDesired Stage = "desired" // reading the stack or the installation
	StageObserve Stage = "observe" // snapshotting the engine
	StageCompute Stage = "compute" // computing the plan
)

// Error is a planning failure and the stage it happened in. Its message is
// the cause's, prefixed for the observe stage ("observe containers: …").
type Error struct {
	Stage Stage
	Err   error
}

func (e *Error) Error() string {
	if e.Stage == StageObserve {
		return "observe containers: " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// StageOf returns the stage of a planning error ("" when err is not one).
func StageOf(err error) Stage {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Stage
	}
	return ""
}

// Planner plans stacks. It is safe for concurrent use.
type Planner struct {
	desired  Desired
	observer Observer
	hashes   *plan.HashCache
	now      func() time.Time
	// builds reads and caches the stacks' build contexts.
	builds *deploy.BuildContexts
}

// Options tune a Planner. The zero value uses the wall clock.
type Options struct {
	// Now is the clock plans are stamped with (default time.Now).
	Now func() time.Time
}

// New returns a Planner reading desired state from desired and the engine
// through observer, with an empty config-hash cache.
func New(desired Desired, observer Observer, o Options) *Planner {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Planner{desired: desired, observer: observer, hashes: plan.NewHashCache(), now: o.Now, builds: deploy.NewBuildContexts()}
}

// Desired reads the stack named name and the installation.
func (p *Planner) Desired(ctx context.Context, name string) (plan.Desired, error) {
	s, err := p.desired.Stack(ctx, name)
	if err != nil {
		return plan.Desired{}, &Error{Stage: StageDesired, Err: err}
	}
	return p.withInstallation(ctx, s)
}

// DesiredByID reads the stack with id and the installation.
func (p *Planner) DesiredByID(ctx context.Context, id int64) (plan.Desired, error) {
	s, err := p.desired.StackByID(ctx, id)
	if err != nil {
		return plan.Desired{}, &Error{Stage: StageDesired, Err: fmt.Errorf("read stack %d: %w", id, err)}
	}
	return p.withInstallation(ctx, s)
}

func (p *Planner) withInstallation(ctx context.Context, s spec.Stack) (plan.Desired, error) {
	in, err := p.desired.Installation(ctx)
	if err != nil {
		return plan.Desired{}, &Error{Stage: StageDesired, Err: fmt.Errorf("read installation: %w", err)}
	}
	return p.WithBuilds(plan.Desired{Stack: s, Paths: in}), nil
}

// WithBuilds returns d with the build contexts of its stack's instances
// read (d.Paths.Builds), as every plan, token and apply of the stack needs
// them: a Desired read elsewhere (state.Store) passes through it before
// its token is compared. A d that already has them is returned as is.
func (p *Planner) WithBuilds(d plan.Desired) plan.Desired {
	if d.Paths.Builds == nil {
		d.Paths.Builds = p.builds.Stack(d.Stack)
	}
	return d
}

// Plan observes d's stack and computes its plan: through SnapshotStack,
// its cost depends on the stack, not on the engine.
func (p *Planner) Plan(ctx context.Context, d plan.Desired) (*plan.Plan, error) {
	snap, err := p.SnapshotStack(ctx, d.Stack)
	if err != nil {
		return nil, err
	}
	return p.Compute(d, snap)
}

// Snapshot snapshots the engine (errors are StageObserve).
func (p *Planner) Snapshot(ctx context.Context) (deploy.Snapshot, error) {
	snap, err := p.observer.Snapshot(ctx)
	if err != nil {
		return deploy.Snapshot{}, &Error{Stage: StageObserve, Err: err}
	}
	return snap, nil
}

// SnapshotOf snapshots the engine for planning stacks, inspecting only
// their containers when the Observer can (errors are StageObserve).
func (p *Planner) SnapshotOf(ctx context.Context, stacks []spec.Stack) (deploy.Snapshot, error) {
	so, ok := p.observer.(StackObserver)
	if !ok {
		return p.Snapshot(ctx)
	}
	ids := make(map[int64]bool, len(stacks))
	for _, s := range stacks {
		ids[s.ID] = true
	}
	snap, err := so.SnapshotOf(ctx, func(id int64) bool { return ids[id] })
	if err != nil {
		return deploy.Snapshot{}, &Error{Stage: StageObserve, Err: err}
	}
	return snap, nil
}

// SnapshotStack observes what st's plan needs, and only that when the
// Observer can (errors are StageObserve). The snapshot serves st's plans
// (Compute, For) only.
func (p *Planner) SnapshotStack(ctx context.Context, st spec.Stack) (deploy.Snapshot, error) {
	so, ok := p.observer.(StackObserver)
	if !ok {
		return p.Snapshot(ctx)
	}
	snap, err := so.SnapshotStack(ctx, st)
	if err != nil {
		return deploy.Snapshot{}, &Error{Stage: StageObserve, Err: err}
	}
	return snap, nil
}

// Compute computes d's plan against a snapshot taken by Snapshot (errors
// are StageCompute).
func (p *Planner) Compute(d plan.Desired, snap deploy.Snapshot) (*plan.Plan, error) {
	if err := snap.EngineErr(d.Stack); err != nil {
		// Several engines: the stack's engine is down (or unknown); the
		// other engines' stacks are planned as usual.
		return nil, &Error{Stage: StageObserve, Err: err}
	}
	d = p.WithBuilds(d)
	pl, err := plan.ComputeCached(d, snap.For(d.Stack), p.now(), p.hashes)
	if err != nil {
		return nil, &Error{Stage: StageCompute, Err: err}
	}
	movedRemovals(pl, d.Stack, snap)
	return pl, nil
}

// All reads every live stack and the installation with a bounded number of
// queries (independent of the number of stacks). The full pass plans them
// against one Snapshot.
func (p *Planner) All(ctx context.Context) ([]spec.Stack, project.Options, error) {
	stacks, err := p.desired.Stacks(ctx)
	if err != nil {
		return nil, project.Options{}, &Error{Stage: StageDesired, Err: fmt.Errorf("read stacks: %w", err)}
	}
	in, err := p.desired.Installation(ctx)
	if err != nil {
		return nil, project.Options{}, &Error{Stage: StageDesired, Err: fmt.Errorf("read installation: %w", err)}
	}
	return stacks, in, nil
}
