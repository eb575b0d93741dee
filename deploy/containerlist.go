package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/spec"
)

// listEntry is what observation keeps of one entry of the engine's
// container list: a few hundred bytes where the entry itself (every label,
// port, mount and network endpoint) holds kilobytes.
type listEntry struct {
	ID     string
	Names  []string
	State  string
	Labels map[string]string // the devarch.* labels only
	// fingerprint is fingerprint(entry): what of the entry can change
	// without the container being recreated.
	fingerprint string
}

func newListEntry(s *container.Summary) listEntry {
	e := listEntry{ID: s.ID, Names: s.Names, State: string(s.State), Labels: map[string]string{}, fingerprint: fingerprint(*s)}
	for k, v := range s.Labels {
		if strings.HasPrefix(k, spec.LabelPrefix) && k != spec.LabelSpec {
			e.Labels[k] = v
		}
	}
	return e
}

// containerLister reads the engine's container list one entry at a time.
// The engine's client decodes a list only once all of it has arrived: with
// thousands of labelled containers on the engine (another installation's
// as well), the answer and its decoding take tens of megabytes at every
// full pass, which decide a controller's peak memory. The lister asks the
// same endpoint over the client's own connection (Client.Dialer: the unix
// socket, TCP with TLS, ssh) and decodes entry by entry, keeping a
// listEntry of each.
type containerLister struct {
	cli        *client.Client
	once       sync.Once
	http       *http.Client
	negotiated atomic.Bool
	// fallback: the engine's address has a base path, which the lister
	// does not rebuild; the client's own list is used.
	fallback bool
}

func newContainerLister(cli *client.Client) *containerLister {
	return &containerLister{cli: cli}
}

func (l *containerLister) init() {
	if u, err := url.Parse(l.cli.DaemonHost()); err != nil || (u.Path != "" && u.Path != "/" && u.Scheme != "unix" && u.Scheme != "npipe") {
		l.fallback = true
		return
	}
	dial := l.cli.Dialer()
	l.http = &http.Client{Transport: &http.Transport{
		DialContext:        func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConns:       2,
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
	}}
}

// list returns the containers (running or not) the engine lists with
// filter f.
func (l *containerLister) list(ctx context.Context, f client.Filters) ([]listEntry, error) {
	l.once.Do(l.init)
	if l.fallback {
		res, err := l.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			return nil, err
		}
		out := make([]listEntry, len(res.Items))
		for i := range res.Items {
			out[i] = newListEntry(&res.Items[i])
		}
		return out, nil
	}
	// The path carries the API version the client negotiates (a ping,
	// once).
	if !l.negotiated.Load() {
		if _, err := l.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
			return nil, err
		}
		l.negotiated.Store(true)
	}
	q := url.Values{"all": {"1"}}
	if len(f) > 0 {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		q.Set("filters", string(b))
	}
	path := "/containers/json"
	if v := strings.TrimPrefix(l.cli.ClientVersion(), "v"); v != "" {
		path = "/v" + v + path
	}
	u := url.URL{Scheme: "http", Host: client.DummyHost, Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, engineError(resp)
	}
	return decodeContainerList(resp.Body)
}

// decodeContainerList decodes a JSON array of container list entries one
// entry at a time.
func decodeContainerList(r io.Reader) ([]listEntry, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("decode the container list: want an array, got %v (%w)", tok, err)
	}
	var out []listEntry
	for dec.More() {
		var s container.Summary
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("decode the container list: %w", err)
		}
		out = append(out, newListEntry(&s))
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("decode the container list: %w", err)
	}
	return out, nil
}

// engineError is the error of an engine's non-200 answer: its message
// ({"message": "..."}), else its status.
func engineError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return fmt.Errorf("engine answered %s: %s", resp.Status, e.Message)
	}
	if len(body) > 0 {
		return fmt.Errorf("engine answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return errors.New("engine answered " + resp.Status)
}
