package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// afterApply wraps a replica's Applier and calls then after each apply.
type afterApply struct {
	reconcile.Applier
	then func()
}

func (a afterApply) Apply(ctx context.Context, s spec.Stack, o deploy.ApplyOptions, p deploy.ProgressFunc) (deploy.Result, error) {
	res, err := a.Applier.Apply(ctx, s, o, p)
	a.then()
	return res, err
}

// TestOutcomeSurvivesADatabaseHiccup: the database goes away between the
// engine work and the step that records the outcome (a proxy in front of
// PostgreSQL cuts every connection of the controller and refuses new ones
// for 2 s). The controller keeps the outcome and records it once the
// database is back: the approval ends succeeded, not applying forever nor
// interrupted.
func TestOutcomeSurvivesADatabaseHiccup(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("hiccup", smallInstance("web", false))
	proxied, proxy := testenv.ProxyURL(t, e.url)
	var back time.Time
	e.startReplicaAt(proxied, "hiccup", reconcile.Options{Resync: 10 * time.Minute}, func(d *reconcile.Deps) {
		d.Applier = afterApply{Applier: d.Applier, then: func() {
			proxy.Down()
			go func() {
				time.Sleep(2 * time.Second)
				back = time.Now()
				proxy.Up()
			}()
		}}
	})
	a := e.file(t.Context(), s, "")
	got := e.waitApproval(a.ID, 60*time.Second, "final", final)
	if got.Status != approval.Succeeded {
		t.Fatalf("approval after the hiccup: %s %q, want succeeded (the outcome the controller knew)", got.Status, got.Message)
	}
	t.Logf("outcome recorded %v after the database came back", got.FinishedAt.Sub(back).Round(time.Millisecond))
	e.waitStatus(s.ID, 30*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
	e.lockFree(s.ID)
}

// TestLostControllerApprovalIsSwept: the database goes away between the
// engine work and the finish step, and the controller is then stopped, so
// nobody can record the outcome. The next sweep of another controller ends
// the approval interrupted (the controller was lost during the apply)
// instead of leaving it applying, and the stack is planned again.
func TestLostControllerApprovalIsSwept(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("lost", smallInstance("web", false))
	proxied, proxy := testenv.ProxyURL(t, e.url)
	applied := make(chan struct{})
	a := e.startReplicaAt(proxied, "lost", reconcile.Options{Resync: 10 * time.Minute}, func(d *reconcile.Deps) {
		d.Applier = afterApply{Applier: d.Applier, then: func() { proxy.Down(); close(applied) }}
	})
	ap := e.file(t.Context(), s, "")
	select {
	case <-applied:
	case <-time.After(60 * time.Second):
		t.Fatal("the apply did not end within 60 s")
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if got, err := e.store.Approval(t.Context(), ap.ID); err != nil || got.Status != approval.Applying {
		t.Fatalf("approval of the lost controller: %+v (err %v), want still applying", got, err)
	}

	start := time.Now()
	e.startReplica("sweeper", reconcile.Options{Resync: 10 * time.Minute}, nil)
	got := e.waitApproval(ap.ID, 20*time.Second, "final", final)
	t.Logf("approval ended %v after another controller started", time.Since(start).Round(time.Millisecond))
	if got.Status != approval.Interrupted || !strings.Contains(got.Message, "controller was lost during the apply") {
		t.Fatalf("approval: %s %q, want interrupted saying the controller was lost during the apply", got.Status, got.Message)
	}
	e.waitStatus(s.ID, 20*time.Second, "planned again (InSync: the apply had finished)", func(st state.StackStatus) bool {
		return st.Condition == reconcile.InSync
	})
	e.lockFree(s.ID)
}
