package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/internal/logging"
)

// SSE event names.
const (
	eventProgress = "progress"
	eventStatus   = "status"
)

// sseRetry is the reconnection delay the stream suggests to clients.
const sseRetry = 2 * time.Second

// parseLastEventID parses the seq a client resumes after: the
// Last-Event-ID header, else the last_event_id query parameter (for
// clients that cannot set headers); "" means from the start.
func parseLastEventID(header, query string) (int, *apiError) {
	raw := strings.TrimSpace(header)
	if raw == "" {
		raw = strings.TrimSpace(query)
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: codeInvalidLastEventID,
			Message: fmt.Sprintf("Last-Event-ID %q is not valid: use the id (a non-negative integer) of the last event received, or omit it to start from the first event.", truncate(raw, 40))}
	}
	return n, nil
}

// streamEvents serves GET /api/v1/approvals/{id}/events: the approval's
// progress events after Last-Event-ID, then live ones, then one "status"
// event with the approval once it is final, then the end of the stream.
func (s *server) streamEvents(w http.ResponseWriter, r *http.Request) {
	last, e := parseLastEventID(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last_event_id"))
	if e != nil {
		e.write(w)
		return
	}
	a, ok := s.loadApproval(w, r)
	if !ok {
		return
	}
	var wake <-chan struct{}
	if !a.Status.Final() {
		sub := s.hub.subscribe(a.ID)
		defer s.hub.unsubscribe(sub)
		wake = sub.wake
	}
	st := s.openStream(w, r, last)
	if st == nil {
		return
	}
	heartbeat := time.NewTicker(s.opts.HeartbeatInterval)
	defer heartbeat.Stop()
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	for {
		done, err := s.catchUp(r, st, a.ID)
		if err != nil {
			s.log.Debug("event stream ended", zap.Int64("approval_id", a.ID), logging.Err(err))
			return
		}
		if done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			if err := st.comment("heartbeat"); err != nil {
				return
			}
		}
	}
}

// openStream sends the event-stream headers. Event streams outlive the
// server's write timeout, so the write deadline is lifted for this
// response.
func (s *server) openStream(w http.ResponseWriter, r *http.Request, last int) *sseStream {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		s.log.Debug("lift write deadline of event stream", logging.Err(err))
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &sseStream{w: w, rc: rc, last: last}
	if err := st.send(fmt.Sprintf("retry: %d\n\n", sseRetry.Milliseconds())); err != nil {
		return nil
	}
	return st
}

// catchUp sends the events the client has not seen and, when the
// approval is final, its status; done is then true. The approval is read
// before its events: an apply appends its last event before it records
// the final status, so a final status read first guarantees that the
// events read next are complete.
func (s *server) catchUp(r *http.Request, st *sseStream, id int64) (done bool, err error) {
	a, err := s.deps.Approvals.Approval(r.Context(), id)
	if err != nil {
		return false, fmt.Errorf("read approval %d: %w", id, err)
	}
	events, err := s.deps.Approvals.ApprovalEvents(r.Context(), id, st.last)
	if err != nil {
		return false, fmt.Errorf("read events of approval %d: %w", id, err)
	}
	for _, ev := range events {
		if ev.Seq <= st.last {
			continue
		}
		if err := st.event(eventProgress, strconv.Itoa(ev.Seq), ev); err != nil {
			return false, err
		}
		st.last = ev.Seq
	}
	if !a.Status.Final() {
		return false, nil
	}
	return true, st.event(eventStatus, "", a)
}

// sseStream writes Server-Sent Events and flushes each one.
type sseStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last int
}

// event writes one event. data is JSON-encoded on one line (JSON escapes
// newlines inside strings), so it always fits one data field.
func (st *sseStream) event(name, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	var buf bytes.Buffer
	buf.WriteString("event: " + name + "\n")
	if id != "" {
		buf.WriteString("id: " + id + "\n")
	}
	buf.WriteString("data: ")
	buf.Write(b)
	buf.WriteString("\n\n")
	return st.send(buf.String())
}

// comment writes an SSE comment, which clients ignore.
func (st *sseStream) comment(text string) error { return st.send(": " + text + "\n\n") }

func (st *sseStream) send(s string) error {
	if _, err := st.w.Write([]byte(s)); err != nil {
		return fmt.Errorf("write event stream: %w", err)
	}
	if err := st.rc.Flush(); err != nil {
		return fmt.Errorf("flush event stream: %w", err)
	}
	return nil
}
