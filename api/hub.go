package api

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/internal/logging"
	"github.com/devarch/devarch-controller/state"
)

// hub shares one LISTEN subscription among every open event stream, so
// that streams do not each hold a database connection. It listens while at
// least one stream is subscribed and wakes the streams of the approval a
// notification names (all of them on a resync or an unreadable payload).
// A wake only means "read again": streams never trust a payload.
//
// Until the subscription is up, or if it fails, streams still see every
// change through their periodic re-read.
type hub struct {
	listener Listener
	log      *zap.Logger

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	cancel  context.CancelFunc // of the running session; nil when none
	session uint64
}

// subscription is one stream's interest in one approval. wake holds at
// most one pending signal: several notifications before the stream reads
// again coalesce into one.
type subscription struct {
	approvalID int64
	wake       chan struct{}
}

func newHub(l Listener, log *zap.Logger) *hub {
	return &hub{listener: l, log: log, subs: map[*subscription]struct{}{}}
}

// subscribe registers interest in an approval and starts the shared
// subscription if none runs. It never blocks on the database.
func (h *hub) subscribe(approvalID int64) *subscription {
	sub := &subscription{approvalID: approvalID, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[sub] = struct{}{}
	if h.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel = cancel
		h.session++
		go h.run(ctx, h.session)
	}
	return sub
}

// unsubscribe removes a subscription and stops the shared one after the
// last stream leaves.
func (h *hub) unsubscribe(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	if len(h.subs) == 0 && h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
}

// run is one listening session: LISTEN, wake everyone once (changes made
// before the LISTEN was active are not notified), then forward
// notifications until the session is cancelled or the channel closes.
func (h *hub) run(ctx context.Context, session uint64) {
	defer h.ended(session)
	ch, err := h.listener.Listen(ctx, state.ChannelApprovals, state.ChannelApprovalEvents)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("listen for approval changes failed; event streams fall back to polling", logging.Err(err))
		}
		return
	}
	h.wakeAll()
	for n := range ch {
		h.dispatch(n)
	}
}

// ended forgets a session that stopped by itself (Listen failed or its
// channel closed), so that the next subscriber starts a new one, and wakes
// the streams so they re-read now.
func (h *hub) ended(session uint64) {
	h.mu.Lock()
	if h.session == session && h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
	h.mu.Unlock()
	h.wakeAll()
}

// dispatch wakes the streams a notification concerns.
func (h *hub) dispatch(n state.Notification) {
	if n.Resync {
		h.wakeAll()
		return
	}
	var id int64
	var err error
	switch n.Channel {
	case state.ChannelApprovalEvents:
		var c state.ApprovalEventChange
		c, err = state.ParseApprovalEventChange(n.Payload)
		id = c.ApprovalID
	case state.ChannelApprovals:
		var c state.ApprovalChange
		c, err = state.ParseApprovalChange(n.Payload)
		id = c.ID
	default:
		return
	}
	if err != nil {
		h.log.Debug("unreadable notification; waking every event stream", zap.String("channel", n.Channel), logging.Err(err))
		h.wakeAll()
		return
	}
	h.wake(func(s *subscription) bool { return s.approvalID == id })
}

func (h *hub) wakeAll() { h.wake(func(*subscription) bool { return true }) }

func (h *hub) wake(match func(*subscription) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if match(s) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

// active reports whether a listening session runs (for tests).
func (h *hub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cancel != nil
}
