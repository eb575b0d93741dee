package reconcile

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/state"
)

// Reconnect backoff of the trigger watchers.
const (
	watchMinBackoff = time.Second
	watchMaxBackoff = 30 * time.Second
)

// resyncLoop runs a full pass at start, every jittered Resync period, and
// whenever a watcher asks for one after it lost events.
func (c *Controller) resyncLoop(ctx context.Context) {
	// List after watch: the start's full pass reads the database only once
	// LISTEN is in place (or failed; a later reconnect asks for a pass), so
	// an approval filed meanwhile is either read by it or notified.
	select {
	case <-c.listenTried:
	case <-ctx.Done():
		return
	}
	c.fullPass(ctx)
	for {
		timer := time.NewTimer(c.queue.Jittered(c.o.Resync))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-c.resyncRequests():
			timer.Stop()
		}
		c.fullPass(ctx)
	}
}

// requestResync asks for a full pass soon (requests coalesce).
func (c *Controller) requestResync() {
	select {
	case c.resync <- struct{}{}:
	default:
	}
}

func (c *Controller) resyncRequests() <-chan struct{} { return c.resync }

// watchRuntime enqueues the stack of every labeled container event, after
// telling the observer what the event said. When
// the event stream breaks (engine down) it reconnects with backoff and,
// once reconnected, asks for a full pass, since events were missed.
func (c *Controller) watchRuntime(ctx context.Context, engine string) {
	backoff := watchMinBackoff
	for reconnect := false; ctx.Err() == nil; reconnect = true {
		events, errs := c.engineEvents(ctx, engine)
		connected := time.Now()
		if reconnect {
			c.requestResync()
		}
		for ev := range events {
			backoff = watchMinBackoff
			// Tell the observer before enqueueing: the pass the event
			// causes must see the change, not trust a list that may lag.
			c.d.Observer.HandleEvent(ev)
			if ev.StackID > 0 && ev.ChangesState() {
				c.queue.Add(ev.StackID)
			}
		}
		err := <-errs
		if ctx.Err() != nil {
			return
		}
		c.metrics.setRuntimeUp(engine, false)
		if time.Since(connected) > watchMaxBackoff {
			backoff = watchMinBackoff
		}
		c.log.Warn("container event stream lost; reconnecting", zap.String("engine", engine), zap.Duration("retry_in", backoff), zap.NamedError("err", err))
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, watchMaxBackoff)
	}
}

// engineEvents opens the event stream of the named engine.
func (c *Controller) engineEvents(ctx context.Context, engine string) (<-chan deploy.Event, <-chan error) {
	if c.d.Engines != nil {
		return c.d.Engines.Events(ctx, engine)
	}
	return c.d.Runtime.Events(ctx)
}

// watchDatabase enqueues stacks named by NOTIFY on desired-state and
// approval changes. A template or installation change (a key rotation, new
// host paths), or a reconnect after lost notifications, asks for a full
// pass. The start's full pass waits for its first attempt to listen (see
// resyncLoop).
func (c *Controller) watchDatabase(ctx context.Context) {
	backoff := watchMinBackoff
	for first := true; ctx.Err() == nil; first = false {
		ch, err := c.d.Notifier.Listen(ctx, state.ChannelDesired, state.ChannelApprovals)
		if first {
			close(c.listenTried)
		}
		if err != nil {
			c.metrics.setDatabaseUp(false)
			c.log.Warn("cannot listen for database notifications; retrying", zap.Duration("retry_in", backoff), zap.NamedError("err", err))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, watchMaxBackoff)
			continue
		}
		if backoff > watchMinBackoff {
			c.requestResync() // notifications sent while not listening are lost
		}
		backoff = watchMinBackoff
		for n := range ch {
			c.onNotification(n)
		}
	}
}

func (c *Controller) onNotification(n state.Notification) {
	if n.Resync {
		c.requestResync()
		return
	}
	switch n.Channel {
	case state.ChannelDesired:
		ch, err := state.ParseDesiredChange(n.Payload)
		if err != nil {
			c.log.Warn("ignore malformed notification", zap.String("channel", n.Channel), zap.NamedError("err", err))
			return
		}
		if ch.StackID == nil {
			c.requestResync() // a template or the installation (key, host paths): every stack may change
			return
		}
		c.queue.Add(*ch.StackID)
	case state.ChannelApprovals:
		ch, err := state.ParseApprovalChange(n.Payload)
		if err != nil {
			c.log.Warn("ignore malformed notification", zap.String("channel", n.Channel), zap.NamedError("err", err))
			return
		}
		if ch.Status == approval.Pending || ch.Status.Final() {
			c.queue.Add(ch.StackID)
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
