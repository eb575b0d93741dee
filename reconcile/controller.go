package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// Options configure the controller.
type Options struct {
	// ReplicaID identifies this process in approval rows (claimed_by).
	ReplicaID string
	// Workers is how many stacks are reconciled at once (default 2).
	Workers int
	// Resync is the period of full passes over every stack (default 30 s,
	// jittered by ±10 %).
	Resync time.Duration
	// ShutdownTimeout bounds how long an in-flight apply may continue
	// after Run's context is cancelled (default 30 s).
	ShutdownTimeout time.Duration
	// InterruptGrace is how long a claimed approval may go without
	// recording its lock before the sweep calls it interrupted (default 1 min).
	InterruptGrace time.Duration
	// LockRetry is how long a stack whose lock another session holds
	// waits before its pending approval is tried again (default 1 s).
	LockRetry time.Duration
	// PullPolicy is passed to compose ("missing" by default).
	PullPolicy string
	Logger     *zap.Logger
	// Registerer receives the loop's metrics (see metrics.go and
	// docs/metrics.md). Nil keeps them unregistered: they still work but
	// nothing exports them. One controller per registry.
	Registerer prometheus.Registerer
	// BeforeVerify, when set, runs after a successful apply and before the
	// apply is checked against its plan: a test hook, to change the engine
	// by hand at that moment.
	BeforeVerify func(ctx context.Context, s spec.Stack)
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Engines names the engines stacks run on, in configuration order,
	// and DefaultEngine the one a stack without an engine runs on
	// (default: one engine, DefaultEngineName). With several, Deps.Engines
	// streams each one's events.
	Engines       []string
	DefaultEngine string
}

// Controller is the reconcile loop. Create it with New and start it with
// Run; the read methods are safe to call while it runs.
type Controller struct {
	d       Deps
	o       Options
	log     *zap.Logger
	queue   *queue
	metrics *metrics

	mu       sync.Mutex
	statuses map[int64]state.StackStatus // last status computed, by stack id
	written  map[int64]state.StackStatus // last status written to the database, by stack id
	names    map[int64]string            // stack id → name, for metric cleanup
	// unfinished holds outcomes the database did not take, by approval id.
	unfinished map[int64]unfinished

	applyCtx context.Context // outlives Run's ctx by ShutdownTimeout
	draining chan struct{}   // closed when Run's ctx ends: take no approvals
	// listenTried is closed after the first attempt to LISTEN, which the
	// start's full pass waits for.
	listenTried chan struct{}
	resync      chan struct{} // full-pass requests, coalesced
	// firstPass is closed when a full pass has planned every stack of the
	// database for the first time (see FirstPassDone).
	firstPass     chan struct{}
	firstPassOnce sync.Once
}

// New returns a controller over its collaborators.
func New(d Deps, o Options) *Controller {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.InterruptGrace <= 0 {
		o.InterruptGrace = time.Minute
	}
	if o.LockRetry <= 0 {
		o.LockRetry = time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultEngine == "" {
		o.DefaultEngine = DefaultEngineName
	}
	if len(o.Engines) == 0 {
		o.Engines = []string{o.DefaultEngine}
	}
	q := newQueue()
	m := newMetrics(o.Registerer)
	for _, e := range o.Engines {
		m.setRuntimeUp(e, false) // until the engine answers
	}
	m.setQueueDepthFunc(q.Len)
	// A container change the observer showed provisionally (a container
	// the engine is still stopping) is observed again once it settles.
	d.Observer.OnSettled(q.Add)
	return &Controller{
		d: d, o: o, log: o.Logger.With(zap.String("component", "reconcile")), queue: q, metrics: m,
		statuses: map[int64]state.StackStatus{}, written: map[int64]state.StackStatus{}, names: map[int64]string{},
		unfinished: map[int64]unfinished{},
		draining:   make(chan struct{}), resync: make(chan struct{}, 1), listenTried: make(chan struct{}),
		firstPass: make(chan struct{}),
	}
}

// FirstPassDone reports whether a full pass has planned every stack of the
// database since the controller started: until then the statuses in the
// database may be an earlier process's (the controller is not ready, and
// the dashboard says the first pass is in progress). A pass that could
// not read the database does not count; one that found an engine down
// does (its stacks' status is then Error, which is correct).
func (c *Controller) FirstPassDone() bool {
	select {
	case <-c.firstPass:
		return true
	default:
		return false
	}
}

// FirstPass returns a channel closed once FirstPassDone is true.
func (c *Controller) FirstPass() <-chan struct{} { return c.firstPass }

// QueueDepth is the number of stacks waiting for a worker.
func (c *Controller) QueueDepth() int { return c.queue.Len() }

// Statuses returns the latest status of every stack this controller has
// reconciled.
func (c *Controller) Statuses() map[int64]state.StackStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int64]state.StackStatus, len(c.statuses))
	for k, v := range c.statuses {
		out[k] = v
	}
	return out
}

// Resync runs one full pass now, synchronously: every stack planned with a
// bounded number of queries and engine calls, statuses recorded,
// approvals swept. Run does this on its resync timer.
func (c *Controller) Resync(ctx context.Context) { c.fullPass(ctx) }

// Enqueue asks for a reconcile of one stack.
func (c *Controller) Enqueue(stackID int64) { c.queue.Add(stackID) }

// Run reconciles until ctx ends. It sweeps interrupted and expired
// approvals, runs a full pass, then serves triggers (runtime events,
// NOTIFY, the resync timer) with Options.Workers workers. When ctx ends
// it stops taking approvals, lets an in-flight apply finish within
// ShutdownTimeout (its lock is released as it returns) and returns nil.
func (c *Controller) Run(ctx context.Context) error {
	applyCtx, cancelApply := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelApply()
	c.applyCtx = applyCtx
	c.log.Info("controller starting", zap.String("replica", c.o.ReplicaID), zap.Int("workers", c.o.Workers), zap.Duration("resync", c.o.Resync))

	triggers, stopTriggers := context.WithCancel(ctx)
	defer stopTriggers()
	var wg sync.WaitGroup
	for i := 0; i < c.o.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.worker(ctx) }()
	}
	for _, f := range []func(context.Context){c.watchDatabase, c.resyncLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); f(triggers) }()
	}
	for _, e := range c.o.Engines {
		wg.Add(1)
		go func() { defer wg.Done(); c.watchRuntime(triggers, e) }()
	}

	<-ctx.Done()
	close(c.draining)
	c.log.Info("controller stopping: no new approvals; waiting for in-flight work", zap.Duration("shutdown_timeout", c.o.ShutdownTimeout))
	timer := time.AfterFunc(c.o.ShutdownTimeout, cancelApply)
	defer timer.Stop()
	c.queue.ShutDown()
	wg.Wait()
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) isDraining() bool {
	select {
	case <-c.draining:
		return true
	default:
		return false
	}
}

// worker reconciles stacks from the queue until it shuts down.
func (c *Controller) worker(ctx context.Context) {
	for {
		id, ok := c.queue.Get()
		if !ok {
			return
		}
		start := c.o.Now()
		res, err := c.reconcileStack(ctx, id)
		result := "success"
		switch {
		case err == nil && res.requeueAfter > 0:
			c.queue.Forget(id)
			c.queue.AddAfter(id, res.requeueAfter)
		case err == nil:
			c.queue.Forget(id)
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			result = "error"
		default:
			result = "error"
			delay := c.queue.Retry(id)
			c.log.Warn("reconcile failed; retrying", zap.Int64("stack_id", id), zap.Duration("retry_in", delay), zap.NamedError("err", err))
		}
		c.metrics.observeReconcile(result, c.o.Now().Sub(start))
		c.queue.Done(id)
	}
}

// applyOptions are the options of an apply in the installation in (host
// paths and keys, read with the stack whose token was checked).
func (c *Controller) applyOptions(in project.Options) deploy.ApplyOptions {
	return deploy.ApplyOptions{Paths: in, PullPolicy: c.o.PullPolicy, OrphanStack: c.orphanStack()}
}

// DefaultEngineName is the engine of a controller given no engine names
// (config.DefaultEngineName: the engine at docker_host).
const DefaultEngineName = "default"

// engineOf returns the name of the engine stack s runs on.
func (c *Controller) engineOf(s spec.Stack) string {
	if s.Engine == "" {
		return c.o.DefaultEngine
	}
	return s.Engine
}
