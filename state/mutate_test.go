package state_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func TestDeleteStackCascadesToInstances(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	keep := importStack(t, s, shopStack("keep"))
	if err := s.DeleteStack(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	pool := s.Pool()
	if n := count(t, pool, `SELECT count(*) FROM instances WHERE stack_id = $1 AND deleted_at IS NULL`, res.StackID); n != 0 {
		t.Errorf("%d live instances left in the deleted stack", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM instances WHERE stack_id = $1 AND deleted_at IS NULL`, keep.StackID); n != 3 {
		t.Errorf("the other stack has %d live instances, want 3", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM stacks WHERE id = $1 AND deleted_at IS NOT NULL`, res.StackID); n != 1 {
		t.Error("the stack row is gone or still live; want it soft-deleted")
	}
	if err := s.DeleteStack(ctx, "shop"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func TestInstanceMutationsReportNotFound(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	importStack(t, s, shopStack("gone"))
	if err := s.DeleteStack(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(stack, instance string) error{
		"DeleteInstance":       func(st, in string) error { return s.DeleteInstance(ctx, st, in) },
		"SetInstanceEnabled":   func(st, in string) error { return s.SetInstanceEnabled(ctx, st, in, false) },
		"SetInstanceOverrides": func(st, in string) error { return s.SetInstanceOverrides(ctx, st, in, spec.Overrides{}) },
	}
	targets := []struct{ stack, instance, wantMsg string }{
		{"nope", "db", `stack "nope" not found; list the stacks with "devarch-controller stack list"`},
		{"gone", "db", `stack "gone" not found; list the stacks with "devarch-controller stack list"`},
		{"shop", "nope", `instance "nope" of stack "shop" not found`},
	}
	for name, mutate := range mutations {
		for _, tc := range targets {
			err := mutate(tc.stack, tc.instance)
			if !errors.Is(err, state.ErrNotFound) || err.Error() != tc.wantMsg {
				t.Errorf("%s(%s, %s): %v, want %q wrapping ErrNotFound", name, tc.stack, tc.instance, err, tc.wantMsg)
			}
		}
	}
	if err := s.SetStackEnabled(ctx, "gone", true); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("SetStackEnabled(gone): %v, want ErrNotFound", err)
	}
}

func TestDeleteInstance(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))

	// web depends on db: deleting db would break the stack.
	err := s.DeleteInstance(ctx, "shop", "db")
	var invalid *spec.ValidationError
	if !errors.As(err, &invalid) || invalid.Problems[0].Field != "instances.web.depends_on" {
		t.Fatalf("DeleteInstance(db): %v, want a validation error about web's dependency", err)
	}
	for _, name := range []string{"web", "db"} {
		if err := s.DeleteInstance(ctx, "shop", name); err != nil {
			t.Fatalf("DeleteInstance(%s): %v", name, err)
		}
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got := instanceNames(st); !slices.Equal(got, []string{"worker"}) {
		t.Errorf("live instances %v, want [worker]", got)
	}
}

func TestSetInstanceEnabled(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	stack := shopStack("shop")
	stack.Instances[2].Overrides.Ports = []spec.Port{{HostPort: 15432, ContainerPort: 80}} // same host port as db, but disabled
	res := importStack(t, s, stack)
	dbID := res.Instances[0].ID

	before := updatedAt(t, s.Pool(), "instances", dbID)
	time.Sleep(5 * time.Millisecond)
	if err := s.SetInstanceEnabled(ctx, "shop", "db", true); err != nil {
		t.Fatal(err)
	}
	if got := updatedAt(t, s.Pool(), "instances", dbID); !got.Equal(before) {
		t.Error("enabling an enabled instance moved updated_at")
	}

	err := s.SetInstanceEnabled(ctx, "shop", "worker", true)
	var invalid *spec.ValidationError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 1 || invalid.Problems[0].Field != "instances.worker.ports" {
		t.Fatalf("enabling worker: %v, want one host port problem", err)
	}
	if err := s.SetInstanceEnabled(ctx, "shop", "db", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInstanceEnabled(ctx, "shop", "worker", true); err != nil {
		t.Fatalf("enabling worker once db is disabled: %v", err)
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Instances[0].Enabled || !st.Instances[2].Enabled {
		t.Errorf("db enabled=%v worker enabled=%v, want false and true", st.Instances[0].Enabled, st.Instances[2].Enabled)
	}
}

func TestSetInstanceOverrides(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))

	bad := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "not a valid image!"}}
	var invalid *spec.ValidationError
	if err := s.SetInstanceOverrides(ctx, "shop", "web", bad); !errors.As(err, &invalid) {
		t.Fatalf("invalid image: %v, want *spec.ValidationError", err)
	}

	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image: "node:22-alpine",
		Env:   []spec.EnvVar{{Key: "API_TOKEN", Value: secretValue}},
	}}
	if err := s.SetInstanceOverrides(ctx, "shop", "web", o); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	web := st.Instances[1]
	if web.Effective.Image != (spec.Value[string]{Value: "node:22-alpine", Source: spec.SourceUser}) {
		t.Errorf("image %+v", web.Effective.Image)
	}
	if len(web.Effective.DependsOn.Value) != 0 {
		t.Errorf("overrides were merged into the old ones, want replaced: depends_on %+v", web.Effective.DependsOn)
	}
	if i := slices.IndexFunc(web.Effective.Env, func(e spec.EnvVar) bool { return e.Key == "API_TOKEN" }); i < 0 || web.Effective.Env[i].Value != secretValue {
		t.Errorf("env %+v lacks API_TOKEN", web.Effective.Env)
	}
}

func TestSetStackEnabled(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	before := updatedAt(t, s.Pool(), "stacks", res.StackID)
	time.Sleep(5 * time.Millisecond)
	if err := s.SetStackEnabled(ctx, "shop", true); err != nil {
		t.Fatal(err)
	}
	if got := updatedAt(t, s.Pool(), "stacks", res.StackID); !got.Equal(before) {
		t.Error("enabling an enabled stack moved updated_at")
	}
	if err := s.SetStackEnabled(ctx, "shop", false); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled {
		t.Error("stack still enabled")
	}
}
