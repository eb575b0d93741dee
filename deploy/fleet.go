package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// EngineSpec names one engine of a Fleet and says how to reach it.
type EngineSpec struct {
	Name string
	// Host is the endpoint (unix://, tcp://, ssh://, npipe://).
	Host string
	// TLSCA, TLSCert and TLSKey are the client TLS files of a tcp://
	// endpoint that requires TLS (all three, or none).
	TLSCA, TLSCert, TLSKey string
}

// Fleet is the set of named engines one controller manages. Each engine
// has its own Runtime and Observer; a stack runs on the engine its Engine
// field names, or on the default engine when it names none. Fleet is safe
// for concurrent use.
type Fleet struct {
	def     string
	order   []string
	engines map[string]*fleetEngine
}

type fleetEngine struct {
	rt  *Runtime
	obs *Observer
}

// engineSnapshotTimeout bounds one engine's part of a Fleet snapshot.
const engineSnapshotTimeout = 30 * time.Second

// ErrUnknownEngine is the error of a stack that names an engine the
// controller does not have.
var ErrUnknownEngine = errors.New("engine is not configured")

// NewFleet connects to every engine of specs (no I/O: an engine that is
// down is found when it is used). def names the default engine and must
// be one of specs.
func NewFleet(specs []EngineSpec, def string, log *zap.Logger) (*Fleet, error) {
	f := &Fleet{def: def, engines: map[string]*fleetEngine{}}
	for _, s := range specs {
		if _, dup := f.engines[s.Name]; dup {
			f.Close()
			return nil, fmt.Errorf("engine %q is configured twice", s.Name)
		}
		rlog := log
		if rlog == nil {
			rlog = zap.NewNop()
		}
		rt, err := newRuntime(endpointOf(s), rlog.With(zap.String("engine", s.Name)))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("engine %q: %w", s.Name, err)
		}
		f.engines[s.Name] = &fleetEngine{rt: rt, obs: rt.NewObserver()}
		f.order = append(f.order, s.Name)
	}
	if _, ok := f.engines[def]; !ok {
		f.Close()
		return nil, fmt.Errorf("default engine %q is not among the engines %s", def, strings.Join(f.order, ", "))
	}
	return f, nil
}

// NewEngineRuntime connects to one engine of a configuration (its host
// and TLS files), as NewRuntime does.
func NewEngineRuntime(s EngineSpec, log *zap.Logger) (*Runtime, error) {
	return newRuntime(endpointOf(s), log)
}

// Close closes every engine's connection.
func (f *Fleet) Close() {
	for _, e := range f.engines {
		_ = e.rt.Close()
	}
}

// Names returns the engines' names in configuration order.
func (f *Fleet) Names() []string { return append([]string(nil), f.order...) }

// Default returns the default engine's name.
func (f *Fleet) Default() string { return f.def }

// EngineOf returns the name of the engine stack s runs on.
func (f *Fleet) EngineOf(s spec.Stack) string {
	if s.Engine == "" {
		return f.def
	}
	return s.Engine
}

// Runtime returns the named engine's Runtime, or nil.
func (f *Fleet) Runtime(name string) *Runtime {
	if e, ok := f.engines[name]; ok {
		return e.rt
	}
	return nil
}

// Observer returns the named engine's Observer, or nil.
func (f *Fleet) Observer(name string) *Observer {
	if e, ok := f.engines[name]; ok {
		return e.obs
	}
	return nil
}

// unknown is the error of a stack naming an engine that does not exist.
func (f *Fleet) unknown(name string) error {
	return fmt.Errorf("engine %q %w (the engines are %s); set the stack's engine to one of them", name, ErrUnknownEngine, strings.Join(f.order, ", "))
}

// Snapshot snapshots every engine at once. An engine that cannot be
// observed does not fail the snapshot: its error is kept for its stacks
// (Snapshot.EngineErr), and the other engines' stacks are planned as usual.
// The error is ctx's when ctx ends.
func (f *Fleet) Snapshot(ctx context.Context) (Snapshot, error) {
	return f.SnapshotOf(ctx, nil)
}

// SnapshotOf is Snapshot that inspects only the containers of stacks want
// accepts (see Observer.SnapshotOf).
func (f *Fleet) SnapshotOf(ctx context.Context, want func(stackID int64) bool) (Snapshot, error) {
	return f.each(ctx, func(ctx context.Context, _ string, obs *Observer) (Snapshot, error) {
		return obs.SnapshotOf(ctx, want)
	})
}

// SnapshotStack observes one stack on every engine: all of what its plan
// needs on its own engine (Observer.SnapshotStack), and its containers on
// the others (a stack that moved leaves them there: the plan removes
// them). An engine that cannot be observed is kept as in Snapshot.
func (f *Fleet) SnapshotStack(ctx context.Context, st spec.Stack) (Snapshot, error) {
	home := st.Engine
	if home == "" {
		home = f.def
	}
	return f.each(ctx, func(ctx context.Context, name string, obs *Observer) (Snapshot, error) {
		if name == home {
			return obs.SnapshotStack(ctx, st)
		}
		containers, err := obs.pass(ctx, scope{stackID: st.ID})
		if err != nil {
			return Snapshot{}, err
		}
		return Snapshot{Containers: map[int64][]spec.Container{st.ID: containers}}, nil
	})
}

// each runs snapshot on every engine at once and gathers the results.
func (f *Fleet) each(ctx context.Context, snapshot func(ctx context.Context, name string, obs *Observer) (Snapshot, error)) (Snapshot, error) {
	snaps := make([]Snapshot, len(f.order))
	errs := make([]error, len(f.order))
	var wg sync.WaitGroup
	for i, name := range f.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An engine that hangs (a remote host gone silent) must not
			// hold up the other engines' stacks for longer than this.
			ectx, cancel := context.WithTimeout(ctx, engineSnapshotTimeout)
			defer cancel()
			snaps[i], errs[i] = snapshot(ectx, name, f.engines[name].obs)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	out := Snapshot{DefaultEngine: f.def, Engines: map[string]Snapshot{}, EngineErrs: map[string]error{}, EngineNames: f.Names()}
	for i, name := range f.order {
		if errs[i] != nil {
			out.EngineErrs[name] = fmt.Errorf("engine %q: %w", name, errs[i])
			continue
		}
		out.Engines[name] = snaps[i]
	}
	return out, nil
}

// HandleEvent passes an engine's event to that engine's Observer
// (Event.Engine; empty means the default engine).
func (f *Fleet) HandleEvent(ev Event) {
	name := ev.Engine
	if name == "" {
		name = f.def
	}
	if e, ok := f.engines[name]; ok {
		e.obs.HandleEvent(ev)
	}
}

// OnSettled registers fn with every engine's Observer.
func (f *Fleet) OnSettled(fn func(stackID int64)) {
	for _, e := range f.engines {
		e.obs.OnSettled(fn)
	}
}

// Events streams the named engine's events, each marked with the engine's
// name (see Runtime.Events).
func (f *Fleet) Events(ctx context.Context, name string) (<-chan Event, <-chan error) {
	e, ok := f.engines[name]
	if !ok {
		out, errs := make(chan Event), make(chan error, 1)
		close(out)
		errs <- f.unknown(name)
		close(errs)
		return out, errs
	}
	in, errs := e.rt.Events(ctx)
	out := make(chan Event)
	go func() {
		defer close(out)
		for ev := range in {
			ev.Engine = name
			out <- ev
		}
	}()
	return out, errs
}

// Apply applies s on its engine (Runtime.Apply). When that succeeds, the
// stack's containers on the other engines are removed: they are what is
// left of the stack before it moved (the plan showed them as removals).
// An engine that cannot be reached is skipped; its containers are removed
// by a later apply.
func (f *Fleet) Apply(ctx context.Context, s spec.Stack, o ApplyOptions, progress ProgressFunc) (Result, error) {
	name := f.EngineOf(s)
	e, ok := f.engines[name]
	if !ok {
		return Result{}, &ApplyError{Phase: "engine", Err: f.unknown(name)}
	}
	res, err := e.rt.Apply(ctx, s, o, progress)
	if err != nil {
		return res, err
	}
	for _, other := range f.order {
		if other == name {
			continue
		}
		if err := f.engines[other].rt.RemoveStack(ctx, s); err != nil {
			e.rt.log.Warn("cannot remove the stack's containers from its previous engine; a later apply retries",
				zap.String("stack", s.Name), zap.String("previous_engine", other), zap.NamedError("err", err))
		}
	}
	return res, nil
}

// Ping pings every engine and returns an error naming each one that does
// not answer.
func (f *Fleet) Ping(ctx context.Context) error {
	var down []string
	var errs []error
	for _, name := range f.order {
		if err := f.engines[name].rt.Ping(ctx); err != nil {
			down = append(down, name)
			errs = append(errs, fmt.Errorf("engine %q: %w", name, err))
		}
	}
	if len(down) == 0 {
		return nil
	}
	return fmt.Errorf("engines down: %s: %w", strings.Join(down, ", "), errors.Join(errs...))
}

// RemoveStack force-removes every container of stack s (by its stack id
// label) on this engine. A stack with none is a no-op.
func (r *Runtime) RemoveStack(ctx context.Context, s spec.Stack) error {
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+fmt.Sprint(s.ID))
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers of stack %q: %w", s.Name, err)
	}
	for _, c := range list.Items {
		if _, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("remove container %s of stack %q: %w", strings.TrimPrefix(firstName(c.Names), "/"), s.Name, err)
		}
	}
	return nil
}
