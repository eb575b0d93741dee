package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseEvent is one parsed Server-Sent Event (or comment).
type sseEvent struct {
	name, id, data, comment string
	retry                   string
}

// readEvent reads one event block (up to a blank line).
func readEvent(r *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	seen := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if seen && errors.Is(err, io.EOF) {
				return ev, nil
			}
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.comment = value
		case "event":
			ev.name = value
		case "id":
			ev.id = value
		case "data":
			ev.data += value
		case "retry":
			ev.retry = value
		}
	}
}

// stream opens an event stream on a test server.
func stream(t *testing.T, srv *httptest.Server, path string, headers map[string]string) (*bufio.Reader, *http.Response) {
	t.Helper()
	return streamURL(t, srv.URL+path, headers)
}

// streamURL opens an event stream, closed when the test ends.
func streamURL(t *testing.T, url string, headers map[string]string) (*bufio.Reader, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return bufio.NewReader(resp.Body), resp
}

// nextEvent reads events until one that is not a comment or a retry
// hint, failing the test after timeout.
func nextEvent(t *testing.T, r *bufio.Reader, timeout time.Duration) sseEvent {
	t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		for {
			ev, err := readEvent(r)
			if err != nil || ev.name != "" {
				done <- result{ev, err}
				return
			}
		}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatalf("read event: %v", res.err)
		}
		return res.ev
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
		return sseEvent{}
	}
}
