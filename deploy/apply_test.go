package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// applyFixture is a stack on the real engine with its own state dir, torn
// down at the end of the test.
type applyFixture struct {
	t     testing.TB
	rt    *Runtime
	stack spec.Stack
	opts  ApplyOptions
	obs   *Observer
}

// lastStackID hands out stack ids, from a random start so that two runs
// do not meet; atomic because tests run in parallel.
var lastStackID = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(time.Now().UnixNano() % 1_000_000_000)
	return &n
}()

func newApplyFixture(t *testing.T, instances ...spec.Instance) *applyFixture {
	return newBenchFixture(t, instances...)
}

// newBenchFixture is newApplyFixture for tests and benchmarks.
func newBenchFixture(t testing.TB, instances ...spec.Instance) *applyFixture {
	t.Helper()
	return newEngineFixture(t, testenv.Engine{Name: testenv.EngineDocker}, instances...)
}

// newEngineFixture is newApplyFixture on engine e (see testenv.Engines).
func newEngineFixture(t testing.TB, e testenv.Engine, instances ...spec.Instance) *applyFixture {
	t.Helper()
	e.Client(t)
	rt, err := NewRuntime(e.Host, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Stack{ID: lastStackID.Add(1), Name: testenv.UniqueName("t"), Enabled: true, Instances: instances}
	dir := t.TempDir()
	f := &applyFixture{t: t, rt: rt, stack: s,
		opts: ApplyOptions{Paths: project.Options{StateDir: filepath.Join(dir, "state"), WorkspaceDir: filepath.Join(dir, "ws")}, PullPolicy: "never"},
		obs:  stackObserver(rt, s.ID),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		down := f.stack
		down.Enabled = false
		// compose removes the containers but keeps their anonymous
		// volumes (unlabelled): note them first, remove them after.
		anonymous := anonymousVolumes(ctx, rt, down.ID)
		if _, err := rt.Apply(ctx, down, f.opts, nil); err != nil {
			t.Logf("tear down stack %s: %v", down.Name, err)
		}
		for _, v := range anonymous {
			_, _ = rt.Client().VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true})
		}
		_ = rt.RemoveNetwork(ctx, down.Network())
		vols, _ := rt.Client().VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+itoa(down.ID))})
		for _, v := range vols.Items {
			_, _ = rt.Client().VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
		_ = rt.Close()
	})
	return f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// anonymousVolumes names the anonymous volumes mounted by stack id's
// containers.
func anonymousVolumes(ctx context.Context, rt *Runtime, stackID int64) []string {
	list, err := rt.Client().ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+itoa(stackID))})
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range list.Items {
		for _, m := range c.Mounts {
			if m.Type == mount.TypeVolume && anonymousVolume.MatchString(m.Name) {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

func (f *applyFixture) plan() *plan.Plan {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := f.obs.Snapshot(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := plan.Compute(plan.Desired{Stack: f.stack, Paths: f.opts.Paths}, snap.For(f.stack), time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *applyFixture) apply() Result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
	if err != nil {
		f.t.Fatalf("apply: %v\ncompose output: %s", err, res.ComposeOutput)
	}
	return res
}

func (f *applyFixture) requireEmptyPlan(when string) {
	f.t.Helper()
	if p := f.plan(); !p.Empty() {
		var b strings.Builder
		_ = p.WriteText(&b, plan.TextOptions{})
		f.t.Fatalf("%s: want an empty plan, got:\n%s", when, b.String())
	}
}

func (f *applyFixture) container(instance string) string {
	return spec.ContainerName(f.stack.Name, instance)
}

func sleeperTemplate() *spec.Template {
	return &spec.Template{ID: 1, Name: "sleeper", Category: "test", Spec: spec.ServiceSpec{
		Image:       testenv.TestImage,
		Command:     []string{"sh", "-c", "npm install && npm run dev"},
		Env:         []spec.EnvVar{{Key: "MODE", Value: "dev"}, {Key: "API_TOKEN", Value: "t0ken-canary"}},
		Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"}, {Type: spec.VolumeTypeVolume, Target: "/cache"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "wget --spider -q http://localhost/ || exit 1"}, Interval: spec.Duration(time.Second), Retries: 3},
		Restart:     "unless-stopped",
		Labels:      []spec.Label{{Key: "tier", Value: "test"}},
		ConfigFiles: []spec.ConfigFile{{Path: "app/app.conf", Target: "/etc/app.conf", Content: "level=info\n"}},
	}}
}

func sleeperInstance(id int64, name string, o spec.Overrides) spec.Instance {
	t := sleeperTemplate()
	return spec.Instance{ID: id, Name: name, Enabled: true, Template: t, Overrides: o, Effective: spec.Merge(&t.Spec, o)}
}

func (f *applyFixture) edit(instance string, change func(o *spec.Overrides, t *spec.Template)) {
	for i := range f.stack.Instances {
		inst := &f.stack.Instances[i]
		if inst.Name == instance {
			change(&inst.Overrides, inst.Template)
			inst.Effective = spec.Merge(&inst.Template.Spec, inst.Overrides)
		}
	}
}

// TestPlanFidelityOnRealEngine applies a stack with compose, checks that the
// plan is then empty, and then changes one field kind at a time: the plan
// must name exactly that field of exactly that instance, and compose, run on
// the new spec, must recreate exactly that container.
func TestPlanFidelityOnRealEngine(t *testing.T) { testenv.EachEngine(t, testPlanFidelityOn) }

func testPlanFidelityOn(t *testing.T, e testenv.Engine) {
	t.Parallel() // the engines side by side
	tagImageOn(t, e, testenv.TestImage, "devarch-test/sleeper:v2")
	f := newEngineFixture(t, e,
		sleeperInstance(1, "a", spec.Overrides{}),
		sleeperInstance(2, "b", spec.Overrides{ServiceSpec: spec.ServiceSpec{Ports: []spec.Port{{HostIP: "127.0.0.1", ContainerPort: 8080, Protocol: "tcp"}}}}),
		sleeperInstance(3, "c", spec.Overrides{ServiceSpec: spec.ServiceSpec{DependsOn: []spec.Dependency{{Name: "a"}}}}),
	)
	res := f.apply()
	if len(res.Created) != 3 || !res.NetworkCreated || res.ConfigFiles != 3 {
		t.Fatalf("first apply: %+v", res)
	}
	f.requireEmptyPlan("right after the first apply")

	edits := []struct {
		path string
		edit func(o *spec.Overrides, t *spec.Template)
	}{
		{"image", func(o *spec.Overrides, _ *spec.Template) { o.Image = "devarch-test/sleeper:v2" }},
		{"command", func(o *spec.Overrides, _ *spec.Template) { o.Command = []string{"sleep", "infinity"} }},
		{"entrypoint", func(o *spec.Overrides, _ *spec.Template) { o.Entrypoint = []string{"/sleeper"} }},
		{"env.MODE", func(o *spec.Overrides, _ *spec.Template) { o.Env = []spec.EnvVar{{Key: "MODE", Value: "prod"}} }},
		{"env.API_TOKEN", func(o *spec.Overrides, _ *spec.Template) {
			o.Env = append(o.Env, spec.EnvVar{Key: "API_TOKEN", Value: "n3w-canary", Secret: true})
		}},
		{"ports", func(o *spec.Overrides, _ *spec.Template) {
			o.Ports = []spec.Port{{HostIP: "127.0.0.1", ContainerPort: 9090, Protocol: "tcp"}}
		}},
		{"volumes", func(o *spec.Overrides, _ *spec.Template) {
			o.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "data2", Target: "/data"}}
		}},
		{"labels.tier", func(o *spec.Overrides, _ *spec.Template) { o.Labels = []spec.Label{{Key: "tier", Value: "prod"}} }},
		{"healthcheck", func(o *spec.Overrides, _ *spec.Template) {
			o.Healthcheck = &spec.Healthcheck{Test: []string{"CMD", "true"}, Interval: spec.Duration(2 * time.Second)}
		}},
		{"restart", func(o *spec.Overrides, _ *spec.Template) { o.Restart = "always" }},
		{"working_dir", func(o *spec.Overrides, _ *spec.Template) { o.WorkingDir = "/tmp" }},
		{"config_files.app/app.conf", func(o *spec.Overrides, _ *spec.Template) {
			o.ConfigFiles = []spec.ConfigFile{{Path: "app/app.conf", Target: "/etc/app.conf", Content: "level=debug\n"}}
		}},
	}
	for _, e := range edits {
		f.edit("b", e.edit)
		p := f.plan()
		if len(p.Changes) != 1 || p.Changes[0].Instance != "b" || p.Changes[0].Action != plan.ActionModify {
			t.Fatalf("%s: want one modify of b, got %+v", e.path, p.Changes)
		}
		var got []string
		for _, fc := range p.Changes[0].Fields {
			got = append(got, fc.Path)
		}
		if !slices.Equal(got, []string{e.path}) {
			t.Fatalf("%s: plan fields %v", e.path, got)
		}
		res := f.apply()
		if !slices.Equal(res.Recreated, []string{f.container("b")}) || len(res.Created) != 0 || len(res.Removed) != 0 {
			t.Fatalf("%s: compose recreated %v, created %v, removed %v; want exactly b recreated", e.path, res.Recreated, res.Created, res.Removed)
		}
		f.requireEmptyPlan("after applying " + e.path)
	}
}

func TestApplyStartsStoppedAndRemovesDisabledAndDeleted(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{}), sleeperInstance(2, "b", spec.Overrides{}), sleeperInstance(3, "c", spec.Overrides{}))
	f.apply()
	ctx := context.Background()
	if _, err := f.rt.Client().ContainerStop(ctx, f.container("a"), client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	p := f.plan()
	if len(p.Changes) != 1 || p.Changes[0].Fields[0].Path != "state" || p.Changes[0].Fields[0].Source != spec.SourceRuntime || p.Changes[0].Recreate {
		t.Fatalf("after docker stop: %+v", p.Changes)
	}
	res := f.apply()
	if !slices.Equal(res.Started, []string{f.container("a")}) || len(res.Recreated)+len(res.Created) != 0 {
		t.Fatalf("apply after stop: %+v", res)
	}
	f.requireEmptyPlan("after restarting a")

	f.stack.Instances[1].Enabled = false                       // disable b
	f.stack.Instances = slices.Delete(f.stack.Instances, 2, 3) // delete c
	p = f.plan()
	if p.Summary != (plan.Summary{Remove: 2}) {
		t.Fatalf("want two removals, got %+v", p.Changes)
	}
	res = f.apply()
	if !slices.Equal(res.Removed, []string{f.container("b"), f.container("c")}) {
		t.Fatalf("removed %v", res.Removed)
	}
	f.requireEmptyPlan("after removals")
}

func TestApplyErrorModel(t *testing.T) {
	t.Run("network owned by someone else: nothing touched", func(t *testing.T) {
		f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{}))
		ctx := context.Background()
		if _, err := f.rt.Client().NetworkCreate(ctx, f.stack.Network(), client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Phase != PhaseNetwork || !strings.Contains(err.Error(), "was not created by this controller") {
			t.Fatalf("want a network-phase error, got %v", err)
		}
		if _, statErr := os.Stat(project.ConfigDir(f.opts.Paths.StateDir, f.stack.Name)); !os.IsNotExist(statErr) {
			t.Errorf("config files were written after a network failure: %v", statErr)
		}
		if p := f.plan(); p.Summary.Add != 1 {
			t.Errorf("containers were created after a network failure: %+v", p.Summary)
		}
		_ = f.rt.RemoveNetwork(ctx, f.stack.Network())
		_, _ = f.rt.Client().NetworkRemove(ctx, f.stack.Network(), client.NetworkRemoveOptions{})
	})
	t.Run("config failure: partial files removed, nothing started", func(t *testing.T) {
		f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{}))
		// A file where the stack's config folder must go makes the swap fail.
		stacks := filepath.Join(f.opts.Paths.StateDir, "stacks")
		testenv.MkdirAll(t, stacks)
		if err := os.WriteFile(filepath.Join(stacks, f.stack.Name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil)
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Phase != PhaseConfigs {
			t.Fatalf("want a configs-phase error, got %v", err)
		}
		entries, _ := os.ReadDir(stacks)
		if len(entries) != 1 {
			t.Errorf("leftover files in %s: %v", stacks, entries)
		}
		if p := f.plan(); p.Summary.Add != 1 {
			t.Errorf("containers were created after a config failure: %+v", p.Summary)
		}
	})
	t.Run("compose failure: configs kept, daemon error recorded", func(t *testing.T) {
		f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "devarch-test/does-not-exist:1"}}))
		res, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil)
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Phase != PhaseCompose {
			t.Fatalf("want a compose-phase error, got %v", err)
		}
		if !strings.Contains(res.ComposeOutput, "devarch-test/does-not-exist") {
			t.Errorf("compose output does not name the missing image: %q", res.ComposeOutput)
		}
		if _, err := os.Stat(project.ConfigPath(f.opts.Paths.StateDir, f.stack.Name, "a", "app/app.conf")); err != nil {
			t.Errorf("config files were not kept for debugging: %v", err)
		}
	})
	t.Run("template without image: build error names it, nothing touched", func(t *testing.T) {
		php := spec.Instance{ID: 1, Name: "php", Enabled: true, Template: &spec.Template{Name: "php", Category: "backend"}}
		php.Effective = spec.Merge(&php.Template.Spec, spec.Overrides{})
		f := newApplyFixture(t, php)
		_, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil)
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Phase != PhaseBuild || !strings.Contains(err.Error(), `template "php"`) || !strings.Contains(err.Error(), "no image") {
			t.Fatalf("want a build error naming the template and the missing image, got %v", err)
		}
	})
}

func TestApplyKeepsSecretsOutOfResultsAndEvents(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{}))
	var events []Progress
	res, err := f.rt.Apply(context.Background(), f.stack, f.opts, func(p Progress) { events = append(events, p) })
	if err != nil {
		t.Fatal(err)
	}
	dump := strings.Builder{}
	for _, e := range events {
		dump.WriteString(e.Container + e.Action + e.Message)
	}
	dump.WriteString(strings.Join(res.Created, ","))
	if strings.Contains(dump.String(), "t0ken-canary") {
		t.Fatal("a secret value reached the progress events or the result")
	}
	insp, err := f.rt.Client().ContainerInspect(context.Background(), f.container("a"), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(insp.Container.Config.Env, "API_TOKEN=t0ken-canary") {
		t.Error("the secret did not reach the container")
	}
	if strings.Contains(insp.Container.Config.Labels[spec.LabelSpec], "t0ken-canary") {
		t.Error("the devarch.spec label holds a secret value")
	}
	if len(events) == 0 {
		t.Error("no progress events")
	}
}

// tagImageOn tags image src as dst on engine e, with the engine's CLI.
func tagImageOn(t *testing.T, e testenv.Engine, src, dst string) {
	t.Helper()
	e.Client(t)
	if out, err := e.CLI(t, "tag", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("%s tag %s %s: %v: %s", e.Name, src, dst, err, out)
	}
}
