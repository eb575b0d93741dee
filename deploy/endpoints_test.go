package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// The engine endpoints of docker context: tcp:// with the client TLS
// files of `docker --tlsverify`, and ssh://USER@HOST, which runs `docker
// system dial-stdio` on the host through the ssh command. The tests reach
// the shared engine through each: a TLS proxy that requires a client
// certificate of its own CA, and an ssh command on PATH that runs the
// remote command locally. Observation, events and compose's apply all go
// through the endpoint.

// localSocket is the path of the shared engine's unix socket.
func localSocket(t *testing.T) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		testenv.Skipf(t, "DOCKER_HOST %q is not a unix socket: the endpoint tests proxy to one", host)
	}
	return path
}

// writePEM writes one PEM block to a file of dir and returns its path.
func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, as `dockerd --tlsverify` is set up with; it returns the
// server's TLS config and the client's ca, cert and key files.
func testCerts(t *testing.T) (server *tls.Config, ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devarch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage, ip net.IP) (tls.Certificate, []byte, []byte) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "devarch test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
		if err != nil {
			t.Fatal(err)
		}
		return pair, der, keyDER
	}
	serverPair, _, _ := issue(2, x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	_, clientDER, clientKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	return server, writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), writePEM(t, dir, "cert.pem", "CERTIFICATE", clientDER),
		writePEM(t, dir, "key.pem", "EC PRIVATE KEY", clientKey)
}

// tlsProxy serves the engine at socket on 127.0.0.1 over TLS with client
// certificates, as a dockerd started with --tlsverify does, until the test
// ends; it returns the tcp:// endpoint and counts the connections it
// accepted with a verified client certificate.
func tlsProxy(t *testing.T, socket string, cfg *tls.Config) (host string, verified func() int) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		count int
		wg    sync.WaitGroup
	)
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.Handshake(); err != nil || len(tc.ConnectionState().VerifiedChains) == 0 {
					return
				}
				mu.Lock()
				count++
				mu.Unlock()
				up, err := net.Dial("unix", socket)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, tc); done <- struct{}{} }()
				go func() { _, _ = io.Copy(tc, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return "tcp://" + ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return count }
}

// fakeSSH puts an ssh command on PATH that runs the remote command (the
// words after the destination, through the shell as sshd does) here, against the shared engine, as sshd on the
// engine's host would, and logs each call's arguments to the file it
// returns.
func fakeSSH(t *testing.T, socket string) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := "#!/bin/sh\n" +
		"echo \"$*\" >> " + calls + "\n" +
		"while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n" +
		"shift 2\n" +
		"DOCKER_HOST=unix://" + socket + " exec sh -c \"$*\"\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

// applyThrough applies a one-instance stack through the engine at spec
// es, then checks the plan it observes through it is empty and that a
// stop of the container arrives as an event through it.
func applyThrough(t *testing.T, es EngineSpec) {
	t.Helper()
	f := newEngineFixture(t, testenv.Engine{Name: testenv.EngineDocker}, sleeperInstance(1, "a", spec.Overrides{}))
	rt, err := NewEngineRuntime(es, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := rt.Ping(ctx); err != nil {
		t.Fatalf("ping %s: %v", es.Host, err)
	}
	// The fixture's own runtime (the shared engine's socket) tears the
	// stack down at cleanup.
	f.rt, f.obs = rt, stackObserver(rt, f.stack.ID)
	f.apply()
	f.requireEmptyPlan("after an apply through " + es.Host)

	evCtx, stop := context.WithCancel(ctx)
	defer stop()
	events, _ := rt.Events(evCtx)
	time.Sleep(500 * time.Millisecond) // the stream is open before the stop
	local := testenv.Docker(t)
	timeout := 1
	if _, err := local.ContainerStop(ctx, f.container("a"), client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the event stream through %s ended", es.Host)
			}
			if ev.StackID == f.stack.ID && ev.Action == "die" {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no die event through %s", es.Host)
		}
	}
}

// TestEngineOverTLS: an engine at tcp://HOST:PORT with the tls files of
// `docker --tlsverify` is observed, applied to by compose and watched
// through TLS with the client certificate.
func TestEngineOverTLS(t *testing.T) {
	testenv.Docker(t)
	server, ca, cert, key := testCerts(t)
	host, verified := tlsProxy(t, localSocket(t), server)
	applyThrough(t, EngineSpec{Name: "ci", Host: host, TLSCA: ca, TLSCert: cert, TLSKey: key})
	if verified() == 0 {
		t.Error("no connection came with the client certificate")
	}
}

// TestEngineOverSSH: an engine at ssh://USER@HOST is reached as docker
// context reaches it: the ssh command runs `docker system dial-stdio` on
// the host, for the controller's own calls and for compose's.
func TestEngineOverSSH(t *testing.T) {
	testenv.Docker(t)
	calls := fakeSSH(t, localSocket(t))
	applyThrough(t, EngineSpec{Name: "edge", Host: "ssh://deploy@edge-1.invalid"})
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatalf("the ssh command was never run: %v", err)
	}
	if !strings.Contains(string(b), "edge-1.invalid docker system dial-stdio") || !strings.Contains(string(b), "deploy") {
		t.Errorf("ssh calls %q, want deploy@edge-1.invalid running docker system dial-stdio", b)
	}
}
