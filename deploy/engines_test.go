package deploy

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// TestEngineKindAndRestartingOnEveryEngine: the runtime tells Docker from
// Podman (plan.Engine.Kind, which selects Podman's checks in the plan),
// and lists a stack's restarting containers on both: Podman refuses the
// "restarting" state as a list filter, which failed every apply there.
func TestEngineKindAndRestartingOnEveryEngine(t *testing.T) {
	testenv.EachEngine(t, func(t *testing.T, e testenv.Engine) {
		f := newEngineFixture(t, e, sleeperInstance(1, "a", spec.Overrides{}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		eng, err := f.rt.Engine(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := plan.EngineDocker
		if e.Podman() {
			want = plan.EnginePodman
		}
		if eng.Kind != want {
			t.Errorf("engine kind = %q, want %q", eng.Kind, want)
		}
		f.apply()
		stack := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(f.stack.ID, 10))
		looping, err := f.rt.restartingContainers(ctx, stack)
		if err != nil || len(looping) != 0 {
			t.Fatalf("restarting containers of a running stack: %v, %v; want none", looping, err)
		}
		f.requireEmptyPlan("after the apply")
	})
}

// TestImageDriftOnEveryEngine: after an apply, the instance's image tag is
// moved to another image with the engine's CLI; the plan recreates the
// container because the tag now names a different image. On Podman a tag
// made locally is named localhost/NAME, and the service's NAME resolves
// to it.
func TestImageDriftOnEveryEngine(t *testing.T) {
	testenv.EachEngine(t, func(t *testing.T, e testenv.Engine) {
		ref := "devarch-test/drift:" + testenv.UniqueName("t")
		tagImageOn(t, e, testenv.TestImage, ref)
		f := newEngineFixture(t, e, sleeperInstance(1, "a", spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: ref}}))
		t.Cleanup(func() { _ = e.CLI(t, "rmi", ref).Run() })
		f.apply()
		f.requireEmptyPlan("after the apply")
		tagImageOn(t, e, "devarch-test/stage:latest", ref)
		p := f.plan()
		if len(p.Changes) != 1 || !p.Changes[0].Recreate || len(p.Changes[0].Fields) != 1 {
			t.Fatalf("plan after retagging %s: %+v, want one recreate", ref, p.Changes)
		}
		if fc := p.Changes[0].Fields[0]; fc.Path != "image" || fc.Source != spec.SourceRuntime || fc.Reason != "the tag now names a different image" {
			t.Errorf("field %+v, want image from the runtime: the tag now names a different image", fc)
		}
		f.apply()
		f.requireEmptyPlan("after applying the new image")
	})
}
