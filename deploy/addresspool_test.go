package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// tinyPoolEngine starts a private dockerd whose default-address-pools hold
// exactly one /24, with its own data root, exec root, pid file and socket,
// its own default bridge and no iptables rules, so it shares nothing with
// the test engine. It is stopped by its pid when the test ends. It returns
// a Runtime for it.
//
// The default bridge is a bridge interface the test creates (with an
// address outside the pool) and removes: not --bridge=none, with which
// dockerd deletes the host's docker0 interface at startup, the default
// bridge of every other engine on the host. The engine is never
// restarted: with default-address-pools set, a restart that finds its
// previous default network deletes docker0 too.
func tinyPoolEngine(t *testing.T) *Runtime {
	t.Helper()
	testenv.Docker(t) // the same requirements as the other engine tests
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		testenv.Skip(t, "dockerd is not installed; the address-pool test starts a private one (install docker.io)")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "the address-pool test starts a private dockerd, which needs root")
	}
	// Short paths: the socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "dvpool")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// A base no other engine on the host uses by default.
	n := 1 + time.Now().Nanosecond()%250
	base := fmt.Sprintf("10.251.%d.0/24", n)
	bridge := "dvpb" + strconv.FormatInt(int64(time.Now().UnixNano()%0xffffff), 16)
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("link", "add", "name", bridge, "type", "bridge"); err != nil {
		testenv.Skipf(t, "the address-pool test creates a bridge interface for its private dockerd: %v", err)
	}
	t.Cleanup(func() {
		if err := ip("link", "del", bridge); err != nil {
			t.Errorf("remove the private engine's bridge: %v", err)
		}
	})
	if err := ip("addr", "add", fmt.Sprintf("10.252.%d.1/24", n), "dev", bridge); err != nil {
		t.Fatal(err)
	}
	if err := ip("link", "set", bridge, "up"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte(`{"default-address-pools":[{"base":"`+base+`","size":24}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	pidFile := filepath.Join(dir, "d.pid")
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(dockerd,
		"--config-file", cfg,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", pidFile,
		"-H", "unix://"+sock,
		"--bridge="+bridge, "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start private dockerd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "dockerd.log")); err == nil {
				t.Logf("private dockerd log:\n%s", tail(string(b), 40))
			}
		}
	})
	rt, err := NewRuntime("unix://"+sock, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	// Runs before the engine stops: a bridge network left on a stopped
	// engine keeps its interface (and its subnet) on the host.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		nets, err := rt.Client().NetworkList(ctx, client.NetworkListOptions{})
		if err != nil {
			t.Logf("list the private engine's networks: %v", err)
			return
		}
		for _, n := range nets.Items {
			if n.Driver == "bridge" && n.Name != "bridge" {
				if _, err := rt.Client().NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
					t.Logf("remove network %s from the private engine: %v", n.Name, err)
				}
			}
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := rt.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("private dockerd exited during startup:\n%s", tail(string(b), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("private dockerd (pid %s) did not answer within 60s: %v", strconv.Itoa(cmd.Process.Pid), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return rt
}

func poolApplyOptions(t *testing.T) ApplyOptions {
	dir := t.TempDir()
	return ApplyOptions{Paths: project.Options{StateDir: filepath.Join(dir, "state"), WorkspaceDir: filepath.Join(dir, "ws")}, PullPolicy: "never"}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// An engine whose address pools are used up fails the apply's network
// phase with an error that says why and how to fix it, not the engine's
// text alone.
func TestApplyNetworkAddressPoolExhausted(t *testing.T) {
	rt := tinyPoolEngine(t)
	ctx := context.Background()

	first := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("pool")}
	if _, err := rt.Apply(ctx, first, poolApplyOptions(t), nil); err != nil {
		t.Fatalf("apply of the first stack (the pool holds one network): %v", err)
	}
	second := spec.Stack{ID: randomStackID(), Name: testenv.UniqueName("pool")}
	var events []Progress
	_, err := rt.Apply(ctx, second, poolApplyOptions(t), func(p Progress) { events = append(events, p) })
	if err == nil {
		t.Fatal("apply of the second stack succeeded; want the address pool to be exhausted")
	}
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Phase != PhaseNetwork {
		t.Fatalf("err = %v; want an *ApplyError of phase %q", err, PhaseNetwork)
	}
	var pe *AddressPoolError
	if !errors.As(err, &pe) || pe.Network != second.Network() {
		t.Fatalf("err = %v; want an *AddressPoolError for network %q", err, second.Network())
	}
	msg := err.Error()
	for _, want := range []string{second.Network(), "default-address-pools", "daemon.json", `"base"`, `"size"`, "restart"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	var sawError bool
	for _, e := range events {
		if e.Status == ProgressError && strings.Contains(e.Message, "default-address-pools") {
			sawError = true
		}
	}
	if !sawError {
		t.Errorf("no progress event carried the explained error: %+v", events)
	}
	if !IsAddressPoolExhausted(pe.Err) {
		t.Errorf("the wrapped cause %v is not recognised as pool exhaustion", pe.Err)
	}
}

func TestIsAddressPoolExhausted(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("Error response from daemon: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"), true},
		{fmt.Errorf("create: %w", errors.New("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")), true},
		{errors.New("all predefined address pools have been fully subnetted"), true},
		{errors.New("network with name x already exists"), false},
		{nil, false},
	} {
		if got := IsAddressPoolExhausted(tc.err); got != tc.want {
			t.Errorf("IsAddressPoolExhausted(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
