package planner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

const (
	secret    = "s3cr3t-planner-Value"
	oldSecret = "0ld-s3cr3t-Value" // what the running container was given
)

var errNotFound = errors.New("not found")

// world is the desired state and the engine, in memory.
type world struct {
	stacks     map[string]spec.Stack
	desiredErr error
	installErr error
	snap       deploy.Snapshot
	snapErr    error
	snaps      int
}

func (w *world) Stacks(context.Context) ([]spec.Stack, error) {
	var out []spec.Stack
	for _, s := range w.stacks {
		out = append(out, s)
	}
	return out, w.desiredErr
}

func (w *world) Stack(_ context.Context, name string) (spec.Stack, error) {
	if w.desiredErr != nil {
		return spec.Stack{}, w.desiredErr
	}
	s, ok := w.stacks[name]
	if !ok {
		return spec.Stack{}, errNotFound
	}
	return s, nil
}

func (w *world) StackByID(ctx context.Context, id int64) (spec.Stack, error) {
	for _, s := range w.stacks {
		if s.ID == id {
			return w.Stack(ctx, s.Name)
		}
	}
	return spec.Stack{}, errNotFound
}

func (w *world) Installation(context.Context) (project.Options, error) {
	return project.Options{StateDir: "/var/lib/devarch", WorkspaceDir: "/srv/devarch"}, w.installErr
}

func (w *world) Snapshot(context.Context) (deploy.Snapshot, error) {
	w.snaps++
	return w.snap, w.snapErr
}

// secretStack holds secret in a secret variable, embedded in an ordinary
// variable (a connection URL) and in the command.
func secretStack(secret string) spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image: "devarch-test/sleeper:latest",
		Env: []spec.EnvVar{
			{Key: "DB_PASSWORD", Value: secret},
			{Key: "DATABASE_URL", Value: "postgres://app:" + secret + "@db:5432/app"},
		},
		Command: []string{"serve", "--password=" + secret},
	}}
	return spec.Stack{ID: 7, Name: "shop", Enabled: true, Instances: []spec.Instance{
		{ID: 71, Name: "web", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}}}
}

// TestPlansAreRedactedOnce is the guarantee every caller relies on: a plan
// from the Planner, whichever way it is asked for, shows no secret value —
// not the current one, not one embedded in another value, not the value
// the running container still has — in its JSON or its text, so neither
// the API, the CLI nor the loop redacts again (TestOnlyThePlannerComputes
// checks that nothing else computes plans).
func TestPlansAreRedactedOnce(t *testing.T) {
	desired := secretStack(secret)
	running := secretStack(oldSecret)
	paths, _ := (&world{}).Installation(t.Context())
	p, err := project.Build(running, paths)
	if err != nil {
		t.Fatal(err)
	}
	svc := p.Services["web"]
	hash, err := project.ServiceHash(svc)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DB_PASSWORD": oldSecret, "DATABASE_URL": "postgres://app:" + oldSecret + "@db:5432/app"}
	c := spec.Container{ID: "c1", Name: svc.ContainerName, StackID: 7, StackName: "shop", InstanceID: 71, InstanceName: "web",
		Project: p.Name, Service: "web", ConfigHash: hash, Image: svc.Image, State: spec.StateRunning,
		Labels: map[string]string(svc.Labels), Env: env, Command: []string{"serve", "--password=" + oldSecret}}
	w := &world{stacks: map[string]spec.Stack{"shop": desired},
		snap: deploy.Snapshot{Containers: map[int64][]spec.Container{7: {c}}, Networks: map[string]string{}, Images: map[string]string{}}}
	pl := New(w, w, Options{})

	d, err := pl.Desired(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	byName, err := pl.Plan(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := pl.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fromSnap, err := pl.Compute(d, snap)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*plan.Plan{"Plan": byName, "Compute": fromSnap} {
		if got.Summary.Modify != 1 {
			t.Fatalf("%s: plan %+v, want the instance modified (its env and command changed)", name, got.Summary)
		}
		var js, text bytes.Buffer
		if err := got.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		if err := got.WriteText(&text, plan.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{js.String(), text.String()} {
			for _, v := range []string{secret, oldSecret} {
				if strings.Contains(out, v) {
					t.Errorf("%s: the plan shows the secret value %q:\n%s", name, v, out)
				}
			}
		}
		if !strings.Contains(text.String(), "DATABASE_URL") {
			t.Errorf("%s: the plan does not name the changed variable DATABASE_URL:\n%s", name, text.String())
		}
	}
}

// TestErrorsNameTheirStage: callers tell a database outage from an engine
// outage from a stack that cannot be planned by the error's stage.
func TestErrorsNameTheirStage(t *testing.T) {
	boom := errors.New("boom")
	w := &world{stacks: map[string]spec.Stack{"shop": secretStack(secret)}, snap: deploy.Snapshot{}}
	pl := New(w, w, Options{})
	ctx := t.Context()

	w.desiredErr = boom
	if _, err := pl.Desired(ctx, "shop"); StageOf(err) != StageDesired || !errors.Is(err, boom) {
		t.Errorf("Desired with the database down: %v (stage %q), want stage desired wrapping the cause", err, StageOf(err))
	}
	if _, _, err := pl.All(ctx); StageOf(err) != StageDesired {
		t.Errorf("All with the database down: stage %q, want desired", StageOf(err))
	}
	w.desiredErr, w.installErr = nil, boom
	if _, err := pl.DesiredByID(ctx, 7); StageOf(err) != StageDesired || !strings.Contains(err.Error(), "read installation") {
		t.Errorf("DesiredByID without the installation: %v (stage %q)", err, StageOf(err))
	}
	w.installErr = nil
	if _, err := pl.DesiredByID(ctx, 8); !errors.Is(err, errNotFound) {
		t.Errorf("DesiredByID of an unknown stack: %v, want it to wrap the store's not-found error", err)
	}
	d, err := pl.DesiredByID(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	w.snapErr = boom
	_, err = pl.Plan(ctx, d)
	if StageOf(err) != StageObserve || err.Error() != "observe containers: boom" {
		t.Errorf("Plan with the engine down: %q (stage %q), want %q at stage observe", err, StageOf(err), "observe containers: boom")
	}
	if StageOf(boom) != "" {
		t.Error("a plain error has a stage")
	}
}

// TestPlannerClockAndCache: plans carry the Planner's clock, and an
// unchanged stack is planned again from the cache (same plan).
func TestPlannerClockAndCache(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	w := &world{stacks: map[string]spec.Stack{"shop": secretStack(secret)}, snap: deploy.Snapshot{}}
	pl := New(w, w, Options{Now: func() time.Time { return now }})
	d, err := pl.Desired(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	first, err := pl.Plan(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !first.GeneratedAt.Equal(now) {
		t.Errorf("plan generated at %v, want the planner's clock %v", first.GeneratedAt, now)
	}
	if pl.hashes.Len() != 1 {
		t.Errorf("cache holds %d hashes after planning one instance, want 1", pl.hashes.Len())
	}
	second, err := pl.Plan(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if second.Token != first.Token || second.Summary != first.Summary || w.snaps != 2 {
		t.Errorf("second plan %+v (token %s) after %d snapshots, want the first's %+v (%s) and one snapshot per plan",
			second.Summary, second.Token, w.snaps, first.Summary, first.Token)
	}
}
