package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/state"
)

const eventTimeout = 5 * time.Second

// quiet never fires during a test: streams then only move on
// notifications.
const quiet = time.Hour

// testServer serves h until the test ends; streams opened later are
// closed first (cleanups run last-in first-out).
func testServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitSession(t *testing.T, l *fakeListener) {
	t.Helper()
	select {
	case <-l.started:
	case <-time.After(eventTimeout):
		t.Fatal("the hub never listened")
	}
}

func expectProgress(t *testing.T, ev sseEvent, seq int) approval.Event {
	t.Helper()
	if ev.name != eventProgress || ev.id != strconv.Itoa(seq) {
		t.Fatalf("event %+v, want progress with id %d", ev, seq)
	}
	var got approval.Event
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatalf("progress data: %v", err)
	}
	if got.Seq != seq {
		t.Fatalf("progress seq %d, want %d", got.Seq, seq)
	}
	return got
}

func expectStatus(t *testing.T, ev sseEvent, status approval.Status) {
	t.Helper()
	if ev.name != eventStatus || ev.id != "" {
		t.Fatalf("event %+v, want status without id", ev)
	}
	var got approval.Approval
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatalf("status data: %v", err)
	}
	if got.Status != status {
		t.Fatalf("final status %q, want %q", got.Status, status)
	}
}

func expectEnd(t *testing.T, r interface{ ReadString(byte) (string, error) }) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := r.ReadString('\n'); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("stream ended with %v, want EOF", err)
		}
	case <-time.After(eventTimeout):
		t.Fatal("the stream did not end after the final status")
	}
}

func eventsChange(id int64, seq int) state.Notification {
	return state.Notification{Channel: state.ChannelApprovalEvents, Payload: fmt.Sprintf(`{"approval_id":%d,"seq":%d}`, id, seq)}
}

func approvalChange(id int64, status approval.Status) state.Notification {
	return state.Notification{Channel: state.ChannelApprovals, Payload: fmt.Sprintf(`{"id":%d,"stack_id":1,"status":%q}`, id, status)}
}

func TestEventsReplayLiveAndFinal(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: quiet})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Applying)
	hs.store.appendEvents(a.ID, "network created", "config written")

	r, resp := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", resp.Header)
	}
	first, _ := readEvent(r)
	if first.retry != "2000" {
		t.Fatalf("first block %+v, want a retry hint", first)
	}
	expectProgress(t, nextEvent(t, r, eventTimeout), 1)
	expectProgress(t, nextEvent(t, r, eventTimeout), 2)

	waitSession(t, hs.listener)
	hs.store.appendEvents(a.ID, "container started")
	hs.listener.notify(eventsChange(a.ID, 3))
	if got := expectProgress(t, nextEvent(t, r, eventTimeout), 3); got.Message != "container started" {
		t.Errorf("live event %+v", got)
	}

	hs.store.appendEvents(a.ID, "done")
	hs.store.setStatus(a.ID, approval.Succeeded)
	hs.listener.notify(approvalChange(a.ID, approval.Succeeded))
	expectProgress(t, nextEvent(t, r, eventTimeout), 4)
	expectStatus(t, nextEvent(t, r, eventTimeout), approval.Succeeded)
	expectEnd(t, r)
	eventually(t, "the hub to stop listening", func() bool { return !hs.listener.open() })
}

func TestEventsNeverTrustThePayload(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: quiet})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Applying)
	other := hs.store.addApproval(approval.Applying)
	r, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	waitSession(t, hs.listener)
	eventually(t, "the first catch-up", func() bool { return hs.store.readCount() >= 4 }) // initial load + catch-up + wake-all

	// A notification for another approval does not wake this stream.
	time.Sleep(20 * time.Millisecond)
	before := hs.store.readCount()
	hs.listener.notify(eventsChange(other.ID, 1))
	time.Sleep(50 * time.Millisecond)
	if after := hs.store.readCount(); after != before {
		t.Fatalf("a notification for approval %d made the stream of %d read the store (%d reads → %d)", other.ID, a.ID, before, after)
	}

	// A payload claiming seq 9 only triggers a read: what is sent is what
	// the store holds.
	hs.store.appendEvents(a.ID, "one")
	hs.listener.notify(eventsChange(a.ID, 9))
	expectProgress(t, nextEvent(t, r, eventTimeout), 1)

	// An unreadable payload and a resync wake every stream.
	hs.store.appendEvents(a.ID, "two")
	hs.listener.notify(state.Notification{Channel: state.ChannelApprovalEvents, Payload: "garbage"})
	expectProgress(t, nextEvent(t, r, eventTimeout), 2)
	hs.store.appendEvents(a.ID, "three")
	hs.listener.notify(state.Notification{Channel: state.ChannelApprovals, Resync: true})
	expectProgress(t, nextEvent(t, r, eventTimeout), 3)
}

func TestEventsResume(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		query   string
		first   int
	}{
		{name: "from the start", first: 1},
		{name: "Last-Event-ID", headers: map[string]string{"Last-Event-ID": "2"}, first: 3},
		{name: "query parameter", query: "?last_event_id=1", first: 2},
		{name: "header wins", headers: map[string]string{"Last-Event-ID": "2"}, query: "?last_event_id=1", first: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: quiet})
			srv := testServer(t, hs.h)
			a := hs.store.addApproval(approval.Failed)
			hs.store.appendEvents(a.ID, "a", "b", "c")
			r, _ := stream(t, srv, approvalURL(a.ID)+"/events"+tt.query, tt.headers)
			for seq := tt.first; seq <= 3; seq++ {
				expectProgress(t, nextEvent(t, r, eventTimeout), seq)
			}
			expectStatus(t, nextEvent(t, r, eventTimeout), approval.Failed)
			expectEnd(t, r)
		})
	}
}

func TestEventsOfAFinalApprovalDoNotListen(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: quiet})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Cancelled)
	r, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	expectStatus(t, nextEvent(t, r, eventTimeout), approval.Cancelled)
	expectEnd(t, r)
	if hs.listener.sessions != 0 {
		t.Errorf("a final approval's stream started %d LISTEN sessions", hs.listener.sessions)
	}
}

func TestEventsFallBackToPolling(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: 20 * time.Millisecond, HeartbeatInterval: quiet})
	hs.listener.err = errors.New("no connection available")
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Pending)
	r, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	hs.store.appendEvents(a.ID, "started")
	expectProgress(t, nextEvent(t, r, eventTimeout), 1)
	hs.store.setStatus(a.ID, approval.Stale)
	expectStatus(t, nextEvent(t, r, eventTimeout), approval.Stale)
	expectEnd(t, r)
}

func TestEventsHeartbeat(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: 10 * time.Millisecond})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Applying)
	r, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	for {
		ev, err := readEvent(r)
		if err != nil {
			t.Fatal(err)
		}
		if ev.comment == "heartbeat" {
			return
		}
	}
}

func TestEventsStoreFailureEndsTheStream(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: 10 * time.Millisecond, HeartbeatInterval: quiet})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Applying)
	r, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	hs.store.mu.Lock()
	hs.store.failWith = errors.New("connection lost")
	hs.store.mu.Unlock()
	expectEnd(t, r)
}

func TestHubSharesOneSession(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: quiet, HeartbeatInterval: quiet})
	srv := testServer(t, hs.h)
	a := hs.store.addApproval(approval.Applying)
	b := hs.store.addApproval(approval.Applying)
	ra, _ := stream(t, srv, approvalURL(a.ID)+"/events", nil)
	rb, respB := stream(t, srv, approvalURL(b.ID)+"/events", nil)
	waitSession(t, hs.listener)
	hs.store.appendEvents(a.ID, "for a")
	hs.store.appendEvents(b.ID, "for b")
	hs.listener.notify(eventsChange(a.ID, 1))
	hs.listener.notify(eventsChange(b.ID, 1))
	expectProgress(t, nextEvent(t, ra, eventTimeout), 1)
	expectProgress(t, nextEvent(t, rb, eventTimeout), 1)
	if hs.listener.sessions != 1 {
		t.Fatalf("%d LISTEN sessions for two streams, want 1", hs.listener.sessions)
	}
	_ = respB.Body.Close()
	hs.store.setStatus(a.ID, approval.Succeeded)
	hs.listener.notify(approvalChange(a.ID, approval.Succeeded))
	expectStatus(t, nextEvent(t, ra, eventTimeout), approval.Succeeded)
	eventually(t, "the last stream to stop the session", func() bool { return !hs.listener.open() })
}
