package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// loadGenerator keeps editing stacks and filing approvals of their current
// state, one operation every loadPace, until stopped. Operations fail
// while a service is down; they are counted, not reported.
type loadGenerator struct {
	e      *env
	stacks []spec.Stack

	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	filed  []int64
	edits  int
	failed int
}

const loadPace = 60 * time.Millisecond

func (e *env) startLoad(stacks []spec.Stack) *loadGenerator {
	l := &loadGenerator{e: e, stacks: stacks, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	e.t.Cleanup(l.halt)
	return l
}

func (l *loadGenerator) run() {
	defer close(l.done)
	tick := time.NewTicker(loadPace)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s := l.stacks[i%len(l.stacks)]
		var err error
		if i%3 == 0 {
			err = l.edit(ctx, s, i)
		} else {
			err = l.file(ctx, s)
		}
		cancel()
		if err != nil {
			l.mu.Lock()
			l.failed++
			l.mu.Unlock()
		}
	}
}

// edit changes an environment variable of the stack's first instance:
// applying it recreates that container.
func (l *loadGenerator) edit(ctx context.Context, s spec.Stack, n int) error {
	inst := s.Instances[0]
	o := inst.Overrides
	o.Env = append(slices.Clone(o.Env), spec.EnvVar{Key: "LOAD", Value: fmt.Sprint(n)})
	if err := l.e.store.SetInstanceOverrides(ctx, s.Name, inst.Name, o); err != nil {
		return err
	}
	l.mu.Lock()
	l.edits++
	l.mu.Unlock()
	return nil
}

// file files an approval of the stack as it is now.
func (l *loadGenerator) file(ctx context.Context, s spec.Stack) error {
	cur, err := l.e.store.StackByID(ctx, s.ID)
	if err != nil {
		return err
	}
	a, err := l.e.store.CreateApproval(ctx, s.ID, l.e.token(cur), []byte(`{"changes":[]}`), "load", time.Hour)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.filed = append(l.filed, a.ID)
	l.mu.Unlock()
	return nil
}

// halt stops the generator and waits for its last operation.
func (l *loadGenerator) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// outageUnderLoad runs load on a few stacks across two replicas, makes an
// outage with restart while an apply of a slow stack is in flight, keeps
// the load going through the outage and a little after, and returns when
// the service answers again. wait blocks until the service answers.
func outageUnderLoad(t *testing.T, e *env, command string, wait func(context.Context) error) (ledger *applyLedger, replicas []*replica,
	stacks []spec.Stack, load *loadGenerator, recovered time.Time) {
	t.Helper()
	slow := e.createStack("slow", slowInstances()...)
	stacks = []spec.Stack{slow, e.createStack("load", smallInstance("web", true)), e.createStack("load", smallInstance("web", false))}
	ledger = newApplyLedger()
	for i := range 2 {
		replicas = append(replicas, e.startReplica(fmt.Sprintf("outage-%d", i), reconcile.Options{Resync: outageResync}, ledgerWrap(ledger)))
	}
	// An apply of the slow stack spans the outage: compose up waits for db
	// to become healthy.
	a := e.file(t.Context(), slow, "")
	e.waitApproval(a.ID, 60*time.Second, "applying under the lock", func(a approval.Approval) bool {
		return a.Status == approval.Applying && a.LockPID != 0
	})
	e.waitRunning(slow, "db", 30*time.Second)
	load = e.startLoad(stacks)
	time.Sleep(10 * loadPace)
	began := time.Now()
	res := <-startRestart(t, command)
	if res.exitCode() == exitNotOurs {
		testenv.Skipf(t, "%q: the service was not started by the project's scripts, so it is not restarted; let scripts/docker.sh and scripts/postgres.sh start them to run this test:\n%s", command, res.output)
	}
	if res.err != nil {
		t.Fatalf("%q: %v\n%s", command, res.err, res.output)
	}
	waitReady(t, "the restarted service", wait)
	recovered = time.Now()
	t.Logf("restarted in %v", recovered.Sub(began).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // load after the recovery
	load.halt()
	return ledger, replicas, stacks, load, recovered
}

// staleTask is the engine's error for a container whose start raced with
// the engine's shutdown: dockerd 20.10 leaves its containerd task behind
// ("Container not cleaned up from containerd from previous run"), and
// every later start fails until the container is removed.
var staleTask = regexp.MustCompile(`task ([0-9a-f]{64}): already exists`)

// checkOutcomes waits for every approval filed during the test to become
// final and checks it: approvals claimed after the recovery succeed or are
// stale; those claimed before it may also have failed or been
// interrupted. Every message is a full sentence, and no two applies of one
// stack ever ran at once. It returns the containers the engine left
// unstartable (see staleTask): approvals that failed on them after the
// recovery are the engine's doing, not the controller's.
func checkOutcomes(t *testing.T, e *env, ledger *applyLedger, load *loadGenerator, recovered time.Time) (unstartable []string) {
	t.Helper()
	counts := e.waitApprovalsFinal(time.Now(), 90*time.Second)
	load.mu.Lock()
	t.Logf("load: %d approvals filed, %d edits, %d operations failed during the outage; outcomes %v", len(load.filed), load.edits, load.failed, counts)
	load.mu.Unlock()
	all, err := e.store.Approvals(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if !isSentence(a.Message) {
			t.Errorf("approval %d (%s) message %q is not a full sentence", a.ID, a.Status, a.Message)
		}
		switch a.Status {
		case approval.Succeeded, approval.Stale:
		case approval.Failed, approval.Interrupted:
			m := staleTask.FindStringSubmatch(a.Message)
			switch {
			case m != nil:
				if !slices.Contains(unstartable, m[1]) {
					unstartable = append(unstartable, m[1])
				}
				t.Logf("approval %d failed on a container the engine restart left unstartable: %q", a.ID, a.Message)
			case a.StartedAt == nil || a.StartedAt.After(recovered):
				t.Errorf("approval %d, claimed at %v after the recovery at %v: %s %q", a.ID, a.StartedAt, recovered, a.Status, a.Message)
			default:
				t.Logf("approval %d in flight at the outage: %s %q", a.ID, a.Status, a.Message)
			}
		default:
			t.Errorf("approval %d: %s %q, want succeeded or stale (failed or interrupted only when in flight at the outage)", a.ID, a.Status, a.Message)
		}
	}
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for id, n := range ledger.maxInFlight {
		if n != 1 {
			t.Errorf("stack %d: %d applies ran at once", id, n)
		}
	}
	return unstartable
}

// converge checks that the replicas kept running, removes the containers
// the engine left unstartable (as a user must: `docker rm -f`), files one
// approval per stack and waits for every stack to be InSync.
func converge(t *testing.T, e *env, replicas []*replica, stacks []spec.Stack, unstartable []string) {
	t.Helper()
	for _, r := range replicas {
		if !r.running() {
			t.Errorf("replica %s stopped during the outage", r.id)
		}
	}
	for _, id := range unstartable {
		if _, err := e.docker.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			t.Fatalf("docker rm -f %s: %v", id, err)
		}
	}
	for _, s := range stacks {
		a := e.file(t.Context(), s, "")
		if got := e.waitApproval(a.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
			t.Fatalf("apply of %s after the outage: %s %q", s.Name, got.Status, got.Message)
		}
	}
	for _, s := range stacks {
		e.waitStatus(s.ID, 30*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
		e.lockFree(s.ID)
	}
}

// TestDisruptivePostgresRestartUnderLoad restarts PostgreSQL while stacks
// are edited, approvals filed and an apply runs, with two replicas.
func TestDisruptivePostgresRestartUnderLoad(t *testing.T) {
	command := restartCommand(t, envPGRestart)
	e := newEnv(t)
	ledger, replicas, stacks, load, recovered := outageUnderLoad(t, e, command, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, os.Getenv(testenv.EnvDatabaseURL))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if unstartable := checkOutcomes(t, e, ledger, load, recovered); len(unstartable) > 0 {
		t.Errorf("approvals failed on unstartable containers %v, but the engine was not restarted", unstartable)
	}
	converge(t, e, replicas, stacks, nil)
}

// TestDisruptiveDockerRestartUnderLoad restarts the Docker engine while
// stacks are edited, approvals filed and an apply runs, with two replicas.
func TestDisruptiveDockerRestartUnderLoad(t *testing.T) {
	command := restartCommand(t, envDockerRestart)
	e := newEnv(t)
	ledger, replicas, stacks, load, recovered := outageUnderLoad(t, e, command, func(ctx context.Context) error {
		_, err := e.docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		return err
	})
	converge(t, e, replicas, stacks, checkOutcomes(t, e, ledger, load, recovered))
}
