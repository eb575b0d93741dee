package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestContainerStateChangesAreDrift: every change of a managed container's
// state made behind the controller's back — kill, a process that exits by
// itself, pause, rm -f, a restart-policy loop — turns the stack's stored
// status Drifted through the engine's events, and undoing it turns it
// InSync again, over several cycles of the same container, with the resync
// at ten minutes (so no full pass can hide a missed event).
func TestContainerStateChangesAreDrift(t *testing.T) {
	e := newEnv(t)
	crash := smallInstance("crash", false)
	crash.Overrides.Env = append(crash.Overrides.Env, spec.EnvVar{Key: "SLEEPER_EXIT_AFTER", Value: "3s"}, spec.EnvVar{Key: "SLEEPER_EXIT_CODE", Value: "1"})
	s := e.createStack("state", smallInstance("web", false))
	c := e.createStack("crash", crash)
	e.startReplica("state", reconcile.Options{Resync: 10 * time.Minute}, nil)
	e.applyNow(s)
	e.applyNow(c)
	ctx := t.Context()
	webName, crashName := spec.ContainerName(s.Name, "web"), spec.ContainerName(c.Name, "crash")

	// bound is a loose ceiling on how long after the request returned the
	// stored status may turn Drifted (BENCHMARKS.md has the real figures,
	// about a tenth of a second): it catches a change that is only seen by
	// a later resync, without failing on a loaded machine.
	const bound = 3 * time.Second
	drifted := func(s spec.Stack, step string) time.Duration {
		t.Helper()
		begin := time.Now()
		st := e.waitStatus(s.ID, 10*time.Second, step+": Drifted", func(st state.StackStatus) bool { return st.Condition == reconcile.Drifted })
		if st.Counts["add"]+st.Counts["modify"] != 1 {
			t.Errorf("%s: counts %v, want one change", step, st.Counts)
		}
		took := time.Since(begin)
		t.Logf("%s: stored status Drifted %v after the request returned", step, took.Round(time.Millisecond))
		return took
	}
	within := func(step string, took time.Duration) {
		t.Helper()
		if took > bound {
			t.Errorf("%s: Drifted only %v after the request, want within %v", step, took, bound)
		}
	}
	inSync := func(s spec.Stack, step string) {
		t.Helper()
		e.waitStatus(s.ID, 10*time.Second, step+": InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
	}
	start := func(name string) {
		t.Helper()
		if _, err := e.docker.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("docker start %s: %v", name, err)
		}
	}

	t.Run("kill", func(t *testing.T) {
		for i := range 4 {
			if _, err := e.docker.ContainerKill(ctx, webName, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
				t.Fatal(err)
			}
			within("kill", drifted(s, fmt.Sprintf("kill %d", i)))
			start(webName)
			inSync(s, fmt.Sprintf("start after kill %d", i))
		}
	})
	t.Run("pause", func(t *testing.T) {
		for i := range 3 {
			if _, err := e.docker.ContainerPause(ctx, webName, client.ContainerPauseOptions{}); err != nil {
				t.Fatal(err)
			}
			within("pause", drifted(s, fmt.Sprintf("pause %d", i)))
			if _, err := e.docker.ContainerUnpause(ctx, webName, client.ContainerUnpauseOptions{}); err != nil {
				t.Fatal(err)
			}
			inSync(s, fmt.Sprintf("unpause %d", i))
		}
		// An apply converges a paused container too (compose alone
		// cannot start a paused container).
		if _, err := e.docker.ContainerPause(ctx, webName, client.ContainerPauseOptions{}); err != nil {
			t.Fatal(err)
		}
		drifted(s, "pause before apply")
		e.applyNow(s)
		inSync(s, "apply after pause")
	})
	t.Run("rm -f", func(t *testing.T) {
		for i := range 2 {
			if _, err := e.docker.ContainerRemove(ctx, webName, client.ContainerRemoveOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			within("rm -f", drifted(s, fmt.Sprintf("rm -f %d", i)))
			e.applyNow(s)
			inSync(s, fmt.Sprintf("apply after rm -f %d", i))
		}
	})
	t.Run("exit by itself", func(t *testing.T) {
		// crash runs 3 s, then exits 1; each start gives it 3 more seconds.
		for i := range 3 {
			drifted(c, fmt.Sprintf("exit %d", i))
			start(crashName)
			inSync(c, fmt.Sprintf("start after exit %d", i))
		}
		drifted(c, "exit 3")
	})
}

// TestRestartLoopIsDrift: a container whose process keeps exiting while
// its restart policy restarts it is reported as a restart loop: the stack
// turns Drifted and the plan's state field says so.
func TestRestartLoopIsDrift(t *testing.T) {
	e := newEnv(t)
	loop := smallInstance("loop", false)
	loop.Overrides.Restart = "always"
	loop.Overrides.Env = append(loop.Overrides.Env, spec.EnvVar{Key: "SLEEPER_EXIT_AFTER", Value: "300ms"}, spec.EnvVar{Key: "SLEEPER_EXIT_CODE", Value: "1"})
	s := e.createStack("loop", loop)
	e.startReplica("loop", reconcile.Options{Resync: 10 * time.Minute}, nil)
	e.applyNow(s)
	e.waitStatus(s.ID, 20*time.Second, "Drifted", func(st state.StackStatus) bool { return st.Condition == reconcile.Drifted })

	rt, err := deploy.NewRuntime("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap, err := rt.NewObserver().Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Compute(plan.Desired{Stack: s, Paths: e.paths}, snap.For(s), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Changes) == 1 && strings.Contains(p.Changes[0].Reason, "restart loop") {
			f := p.Changes[0].Fields[0]
			if f.Path != "state" || f.Old == nil || !strings.HasPrefix(*f.Old, "restarting (exit 1, ") {
				t.Errorf("state field %+v, want old value restarting (exit 1, N restarts)", f)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no plan named the restart loop within 20 s; last plan %+v", p.Changes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// applyNow files an approval of stack s's current state and waits until it
// succeeded.
func (e *env) applyNow(s spec.Stack) {
	e.t.Helper()
	a := e.file(e.t.Context(), s, "")
	if got := e.waitApproval(a.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
		e.t.Fatalf("apply of %s: %s %q", s.Name, got.Status, got.Message)
	}
}
