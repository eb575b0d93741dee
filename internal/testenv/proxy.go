package testenv

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a server (PostgreSQL), for tests of
// what a client does when its connection to the server goes silent or
// breaks. Each accepted connection is one Link to the server.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	links   []*Link
	refuse  bool
	stopped bool
}

// Link is one proxied connection: client ↔ proxy ↔ server.
type Link struct {
	client, server net.Conn

	mu     sync.Mutex
	silent bool
	wake   *sync.Cond
}

// NewProxy listens on a loopback port and forwards every connection to
// target ("host:port"). It stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &Proxy{t: t, ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

// ProxyURL returns databaseURL with its host and port replaced by a new
// Proxy's, and the Proxy.
func ProxyURL(t testing.TB, databaseURL string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("proxy: parse database url: %v", err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return u.String(), p
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse || p.stopped
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &Link{client: c, server: s}
		l.wake = sync.NewCond(&l.mu)
		p.mu.Lock()
		p.links = append(p.links, l)
		p.mu.Unlock()
		go l.pipe(c, s)
		go l.pipe(s, c)
	}
}

// pipe copies src to dst, holding every chunk while the link is silent.
func (l *Link) pipe(src, dst net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.mu.Lock()
			for l.silent {
				l.wake.Wait()
			}
			l.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_ = src.Close()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			} else if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// Silence stops the link forwarding anything in either direction, without
// closing it (no FIN, no RST): to both ends the peer just stops answering.
func (l *Link) Silence() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.silent = true
}

// Cut closes both sides of the link.
func (l *Link) Cut() {
	l.mu.Lock()
	l.silent = false
	l.wake.Broadcast()
	l.mu.Unlock()
	_ = l.client.Close()
	_ = l.server.Close()
}

// ServerLocalPort is the proxy's port on its connection to the server:
// PostgreSQL shows it as pg_stat_activity.client_port of the session.
func (l *Link) ServerLocalPort() int {
	return l.server.LocalAddr().(*net.TCPAddr).Port
}

// Links returns the connections made so far.
func (p *Proxy) Links() []*Link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Link(nil), p.links...)
}

// Down cuts every link and refuses new connections until Up: to a client
// the server is gone.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.refuse = true
	links := p.links
	p.links = nil
	p.mu.Unlock()
	for _, l := range links {
		l.Cut()
	}
}

// Up accepts connections again after Down.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
}

func (p *Proxy) stop() {
	p.mu.Lock()
	p.stopped = true
	links := p.links
	p.links = nil
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, l := range links {
		l.Cut()
	}
}
