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
