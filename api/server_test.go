package api

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
)

// serve runs h on a loopback port with short read and write timeouts.
func serve(t *testing.T, h http.Handler, timeout time.Duration) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(ln.Addr().String(), h, timeout, timeout)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "http://" + ln.Addr().String()
}

func openStream(t *testing.T, url string) *bufio.Reader {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return bufio.NewReader(resp.Body)
}

func TestServerTimeouts(t *testing.T) {
	srv := Server("127.0.0.1:8080", http.NotFoundHandler())
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Fatalf("server without timeouts: %+v", srv)
	}
	if srv.Addr != "127.0.0.1:8080" || srv.BaseContext == nil {
		t.Fatalf("server = %+v", srv)
	}
}

// TestEventStreamOutlivesServerTimeouts: a stream keeps delivering after
// the server's read and write timeouts have passed.
func TestEventStreamOutlivesServerTimeouts(t *testing.T) {
	const timeout = 150 * time.Millisecond
	hs := newHarness(t, Options{PollInterval: 20 * time.Millisecond, HeartbeatInterval: 40 * time.Millisecond})
	_, base := serve(t, hs.h, timeout)
	a := hs.store.addApproval(approval.Applying)
	r := openStream(t, base+approvalURL(a.ID)+"/events")
	time.Sleep(4 * timeout)
	hs.store.appendEvents(a.ID, "late")
	expectProgress(t, nextEvent(t, r, eventTimeout), 1)
	hs.store.setStatus(a.ID, approval.Succeeded)
	expectStatus(t, nextEvent(t, r, eventTimeout), approval.Succeeded)
	expectEnd(t, r)
}

// TestShutdownEndsEventStreams: Shutdown does not wait for open streams
// until its deadline.
func TestShutdownEndsEventStreams(t *testing.T) {
	hs := newHarness(t, Options{PollInterval: time.Hour, HeartbeatInterval: time.Hour})
	srv, base := serve(t, hs.h, time.Minute)
	a := hs.store.addApproval(approval.Applying)
	r := openStream(t, base+approvalURL(a.ID)+"/events")
	if ev, err := readEvent(r); err != nil || ev.retry == "" {
		t.Fatalf("first block %+v, %v", ev, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %s with an open event stream", d)
	}
	expectEnd(t, r)
}
