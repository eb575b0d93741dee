package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// NOTIFY channels fed by the schema's triggers (see docs/schema.md).
// Payloads are small JSON objects that carry ids and statuses only, never a
// spec, overrides or plan.
const (
	// ChannelDesired carries a DesiredChange for every real insert, update
	// or delete of a stack, instance or template row, and for every change
	// of the installation (keys, host paths).
	ChannelDesired = "devarch_desired"
	// ChannelApprovals carries an ApprovalChange for every real insert,
	// update or delete of an approval.
	ChannelApprovals = "devarch_approvals"
	// ChannelApprovalEvents carries an ApprovalEventChange for every
	// progress event appended to an approval.
	ChannelApprovalEvents = "devarch_approval_events"
)

// Kinds of rows a DesiredChange names.
const (
	KindStack    = "stack"
	KindInstance = "instance"
	KindTemplate = "template"
	// KindInstallation names a change of the installation: a key created
	// or retired, or new host paths. It carries no stack id: every stack's
	// token changes.
	KindInstallation = "installation"
)

// Notification is one message received by Listen.
//
// Resync is true (and Payload empty) for the notification Listen sends on
// every channel after it re-established a lost connection: notifications
// sent in the meantime are lost, so the consumer must re-read the state.
type Notification struct {
	Channel string
	Payload string
	Resync  bool
}

const (
	listenBuffer     = 64
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Listen subscribes to the given channels on a dedicated connection taken
// from the pool (and removed from it). When Listen returns, the LISTENs are
// active: a change committed afterwards will be delivered. Notifications
// arrive in commit order on the returned channel, which is closed when ctx
// ends. If the connection is lost, Listen reconnects with exponential
// backoff (100 ms up to 10 s) and then sends a Resync notification on each
// channel. A consumer that stops reading stalls only its own connection.
func (s *Store) Listen(ctx context.Context, channels ...string) (<-chan Notification, error) {
	if len(channels) == 0 {
		return nil, errors.New("listen: no channel given")
	}
	conn, err := s.listenConn(ctx, channels)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	out := make(chan Notification, listenBuffer)
	go s.runListener(ctx, conn, channels, out)
	return out, nil
}

// listenConn takes a connection out of the pool and LISTENs on channels.
func (s *Store) listenConn(ctx context.Context, channels []string) (*pgx.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	conn := pc.Hijack()
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			closeConn(conn)
			return nil, fmt.Errorf("listen on %s: %w", ch, err)
		}
	}
	return conn, nil
}

func (s *Store) runListener(ctx context.Context, conn *pgx.Conn, channels []string, out chan<- Notification) {
	defer close(out)
	for {
		err := forwardNotifications(ctx, conn, out)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listen connection lost; reconnecting", zap.NamedError("err", err))
		if conn = s.relisten(ctx, channels); conn == nil {
			return
		}
		s.log.Info("listen connection re-established", zap.Strings("channels", channels))
		for _, ch := range channels {
			select {
			case out <- Notification{Channel: ch, Resync: true}:
			case <-ctx.Done():
				closeConn(conn)
				return
			}
		}
	}
}

// forwardNotifications copies notifications to out until the connection
// fails or ctx ends.
func forwardNotifications(ctx context.Context, conn *pgx.Conn, out chan<- Notification) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		select {
		case out <- Notification{Channel: n.Channel, Payload: n.Payload}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// relisten reconnects with exponential backoff until it succeeds (the new
// connection) or ctx ends (nil).
func (s *Store) relisten(ctx context.Context, channels []string) *pgx.Conn {
	delay := listenMinBackoff
	for {
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		conn, err := s.listenConn(ctx, channels)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("listen reconnect failed", zap.NamedError("err", err), zap.Duration("retry_in", delay))
		delay = min(2*delay, listenMaxBackoff)
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
