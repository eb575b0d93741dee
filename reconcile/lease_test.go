package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
)

// phaseHook wraps a replica's Applier: before the apply's own check of its
// lock ahead of each phase, it calls at(phase), and it records the phases
// the apply went on to start.
type phaseHook struct {
	reconcile.Applier
	at func(s spec.Stack, phase string)

	mu      sync.Mutex
	started []string
}

func (h *phaseHook) Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, progress deploy.ProgressFunc) (deploy.Result, error) {
	inner := o.BeforePhase
	o.BeforePhase = func(ctx context.Context, phase string) error {
		if h.at != nil {
			h.at(s, phase)
		}
		if inner != nil {
			if err := inner(ctx, phase); err != nil {
				return err
			}
		}
		h.mu.Lock()
		h.started = append(h.started, phase)
		h.mu.Unlock()
		return nil
	}
	return h.Applier.Apply(ctx, s, o, progress)
}

func (h *phaseHook) phases() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.started...)
}

// lockHolder returns the backend pid holding stack id's lock (0: none).
func (e *env) lockHolder(id int64) int32 {
	e.t.Helper()
	holders, err := lock.New(e.store.Pool(), nil).Holders(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range holders {
		if h.StackID == id {
			return h.BackendPID
		}
	}
	return 0
}

// terminate ends backend pid's session, as an administrator or a crash
// of the connection would.
func (e *env) terminate(pid int32) {
	e.t.Helper()
	var ok bool
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		e.t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

// containerExists reports whether stack s's instance has a container.
func (e *env) containerExists(s spec.Stack, instance string) bool {
	e.t.Helper()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10)).Add("label", spec.LabelInstance+"="+instance)
	list, err := e.docker.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(list.Items) > 0
}

// containerState is the state of stack s's instance container ("" when
// there is none).
func (e *env) containerState(s spec.Stack, instance string) string {
	e.t.Helper()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10)).Add("label", spec.LabelInstance+"="+instance)
	list, err := e.docker.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(list.Items) == 0 {
		return ""
	}
	return string(list.Items[0].State)
}

// TestLockLostStopsTheApply: the stack's lock session is terminated
// (pg_terminate_backend) once just before the configs phase and once in the
// middle of compose up. Each time the apply runs no further phase, the
// approval ends failed with a message that says the lock was lost and in
// which phase, and a second controller applies the re-filed approval.
func TestLockLostStopsTheApply(t *testing.T) {
	e := newEnv(t)
	before := e.createStack("lostcfg", smallInstance("web", true))
	during := e.createStack("lostup", slowInstances()...)
	hook := &phaseHook{}
	hook.at = func(s spec.Stack, phase string) {
		if s.ID == before.ID && phase == deploy.PhaseConfigs {
			e.terminate(e.lockHolder(s.ID))
		}
	}
	a := e.startReplica("a", reconcile.Options{Resync: 10 * time.Minute}, func(d *reconcile.Deps) {
		hook.Applier = d.Applier
		d.Applier = hook
	})

	ap := e.file(t.Context(), before, "")
	got := e.waitApproval(ap.ID, 30*time.Second, "final", final)
	if want := fmt.Sprintf(reconcile.MessageLockLost, deploy.PhaseConfigs); got.Status != approval.Failed || got.Message != want {
		t.Fatalf("approval after the lock was lost before configs: %s %q, want failed %q", got.Status, got.Message, want)
	}
	if p := hook.phases(); strings.Join(p, ",") != deploy.PhaseNetwork {
		t.Errorf("phases started: %v, want only network", p)
	}
	if _, err := os.Stat(deploy.ConfigDir(e.paths.StateDir, before.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("config folder of %s: %v, want none (the configs phase must not run)", before.Name, err)
	}
	if e.containerExists(before, "web") {
		t.Error("a container was created after the lock was lost")
	}

	ap = e.file(t.Context(), during, "")
	e.waitApproval(ap.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
	})
	e.waitRunning(during, "db", 30*time.Second) // compose up now waits for db's healthcheck
	e.terminate(e.lockHolder(during.ID))
	terminated := time.Now()
	got = e.waitApproval(ap.ID, 30*time.Second, "final", final)
	t.Logf("approval final %v after its lock session was terminated", time.Since(terminated).Round(time.Millisecond))
	if want := fmt.Sprintf(reconcile.MessageLockLost, deploy.PhaseCompose); got.Status != approval.Failed || got.Message != want {
		t.Fatalf("approval after the lock was lost in compose up: %s %q, want failed %q", got.Status, got.Message, want)
	}
	// compose up stopped: app (created with the others, then waiting for
	// db to become healthy before it starts) is never started, even after
	// db's healthcheck has passed.
	time.Sleep(slowHealthInterval + time.Second)
	if st := e.containerState(during, "app"); st == spec.StateRunning {
		t.Error("compose up went on after the lock was lost: app was started")
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	e.startReplica("b", reconcile.Options{Resync: 10 * time.Minute}, nil)
	for _, s := range []spec.Stack{before, during} {
		e.lockFree(s.ID)
		again := e.file(t.Context(), s, "")
		if got := e.waitApproval(again.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded || got.ClaimedBy != "b" {
			t.Errorf("re-filed approval of %s: %s by %q %q, want succeeded by b", s.Name, got.Status, got.ClaimedBy, got.Message)
		}
	}
}

// TestSilentLockSessionIsLost: the lock's connection goes silent (a proxy
// in front of PostgreSQL stops forwarding it, without closing it) just
// before the configs phase. The controller finds the lock lost within 15 s
// and runs no further phase.
func TestSilentLockSessionIsLost(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("silent", smallInstance("web", true))
	proxied, proxy := testenv.ProxyURL(t, e.url)
	var silenced time.Time
	hook := &phaseHook{}
	hook.at = func(_ spec.Stack, phase string) {
		if phase != deploy.PhaseConfigs {
			return
		}
		var port int
		pid := e.lockHolder(s.ID)
		if err := e.store.Pool().QueryRow(context.Background(), `SELECT client_port FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&port); err != nil {
			t.Errorf("client port of lock session %d: %v", pid, err)
			return
		}
		for _, l := range proxy.Links() {
			if l.ServerLocalPort() == port {
				l.Silence()
				silenced = time.Now()
				return
			}
		}
		t.Errorf("no proxied connection has port %d", port)
	}
	e.startReplicaAt(proxied, "silent", reconcile.Options{Resync: 10 * time.Minute}, func(d *reconcile.Deps) {
		hook.Applier = d.Applier
		d.Applier = hook
	})
	ap := e.file(t.Context(), s, "")
	got := e.waitApproval(ap.ID, 60*time.Second, "final", final)
	lost := got.FinishedAt.Sub(silenced)
	t.Logf("approval final %v after the lock's connection went silent", lost.Round(time.Millisecond))
	if want := fmt.Sprintf(reconcile.MessageLockLost, deploy.PhaseConfigs); got.Status != approval.Failed || got.Message != want {
		t.Fatalf("approval: %s %q, want failed %q", got.Status, got.Message, want)
	}
	if silenced.IsZero() || lost > 15*time.Second {
		t.Errorf("lock loss found %v after the connection went silent, want ≤ 15 s", lost)
	}
	if p := hook.phases(); strings.Join(p, ",") != deploy.PhaseNetwork {
		t.Errorf("phases started: %v, want only network", p)
	}
	if _, err := os.Stat(filepath.Join(deploy.ConfigDir(e.paths.StateDir, s.Name))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("config folder: %v, want none", err)
	}
	if e.containerExists(s, "web") {
		t.Error("a container was created after the lock was lost")
	}
}
