package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Dockerd is a second Docker engine a test starts on this machine, beside
// the shared one: its own data root, exec root (and so its own
// containerd), pid file and socket, a default bridge interface of its own
// and no iptables rules. Nothing of the shared engine is touched: the test
// stops this one by its pid and removes its bridge.
//
// Two dockerd settings would delete the host's docker0, the shared
// engine's default bridge, and are never used here: --bridge=none (at
// every start), and default-address-pools (at a restart that finds the
// engine's previous default network, as Stop then Start does). Its
// networks therefore come from Docker's default pools, which skip the
// subnets the host already routes.
type Dockerd struct {
	// Host is its endpoint, unix:///tmp/devarch-dockerd-…/docker.sock.
	Host string
	dir  string
	cmd  *exec.Cmd
	log  *os.File
	// bridge is the name of its default bridge interface.
	bridge string
}

// StartDockerd starts a second dockerd for the test, loads the test image
// into it (TestImage, built from ./testimage: the shared engine's tags may
// be moved by other tests) and stops it, removing its files, at cleanup.
// It needs root and dockerd; without them the test fails under
// DEVARCH_TEST_REQUIRE=1, else it is skipped.
func StartDockerd(t testing.TB) *Dockerd {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil || os.Geteuid() != 0 {
		Skip(t, "a second Docker engine needs dockerd and root")
	}
	// A short directory: a unix socket path is at most 107 bytes.
	dir, err := os.MkdirTemp("/tmp", "devarch-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	n := 200 + os.Getpid()%50
	d := &Dockerd{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir,
		bridge: fmt.Sprintf("dvd%x", time.Now().UnixNano()&0xffffff)}
	ip := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("link", "add", "name", d.bridge, "type", "bridge"); err != nil {
		Skipf(t, "a second Docker engine needs a bridge interface of its own: %v", err)
	}
	t.Cleanup(func() {
		d.Stop(t)
		if err := ip("link", "del", d.bridge); err != nil {
			t.Logf("remove the second engine's bridge: %v", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove %s: %v", dir, err)
		}
	})
	// The bridge's own subnet, outside Docker's default pools.
	for _, args := range [][]string{{"addr", "add", fmt.Sprintf("10.199.%d.1/24", n-200), "dev", d.bridge}, {"link", "set", d.bridge, "up"}} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	d.Start(t)
	ImportTestImage(t, d.Client(t), TestImage)
	return d
}

// Start starts the engine (again, after Stop, with the same data) and
// waits until it answers.
func (d *Dockerd) Start(t testing.TB) {
	t.Helper()
	if d.cmd != nil {
		t.Fatal("testenv: Dockerd.Start: the engine already runs")
	}
	log, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dockerd",
		"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "dockerd.pid"), "-H", d.Host,
		"--bridge="+d.bridge, "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a test's Ctrl-C must not reach it
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("start dockerd: %v", err)
	}
	d.cmd, d.log = cmd, log
	cli := d.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the second dockerd does not answer on %s within a minute; log:\n%s", d.Host, d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the engine by its pid (SIGTERM, then SIGKILL after 30 s) and
// waits for it to exit. Its containers stop with it. Stopping a stopped
// engine does nothing.
func (d *Dockerd) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	cmd := d.cmd
	d.cmd = nil
	defer d.log.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Logf("dockerd (pid %d) did not stop within 30s; killing it", cmd.Process.Pid)
		_ = cmd.Process.Kill()
		<-done
	}
}

// Pid is the running engine's process id (0 when stopped).
func (d *Dockerd) Pid() int {
	if d.cmd == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Log returns the engine's log so far.
func (d *Dockerd) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	return string(b)
}

// Client returns a client of the engine, closed at cleanup.
func (d *Dockerd) Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(d.Host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// ImportTestImage builds the test image's binary and imports it into the
// engine of cli as ref: /sleeper (the entrypoint) with /bin/sh linking to
// it, /tmp and a minimal /etc. A test that must not depend on TestImage's
// tag on a shared engine (other tests retag it) imports its own ref and
// removes it at cleanup.
func ImportTestImage(t testing.TB, cli *client.Client, ref string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sleeper")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testimage")
	build.Dir = RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test image's binary: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
	group := []byte("root:x:0:\nnogroup:x:65534:\n")
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(group))}, group)
	add(&tar.Header{Name: "sleeper", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}, data)
	add(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/sleeper", Mode: 0o777}, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/sleeper"]`}})
	if err != nil {
		t.Fatalf("import the test image as %s: %v", ref, err)
	}
	defer res.Close()
	out := new(bytes.Buffer)
	_, _ = out.ReadFrom(res)
	if !strings.Contains(out.String(), "sha256:") {
		t.Fatalf("import the test image as %s: %s", ref, out)
	}
}
