package state_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func TestStacksMergeEffectiveSpecsWithProvenance(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	importStack(t, s, shopStack("alpha"))

	stacks, err := s.Stacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) != 2 || stacks[0].Name != "alpha" || stacks[1].Name != "shop" {
		t.Fatalf("stacks %v, want alpha then shop", stackNames(stacks))
	}
	shop := stacks[1]
	if shop.Description != "Shop fixture." || !shop.Enabled || len(shop.Wires) != 1 || shop.Wires[0].ProviderInstance != "db" {
		t.Errorf("stack fields not read back: %+v", shop)
	}
	if got := instanceNames(shop); !reflect.DeepEqual(got, []string{"db", "web", "worker"}) {
		t.Fatalf("instances %v", got)
	}
	db, web, worker := shop.Instances[0], shop.Instances[1], shop.Instances[2]

	if db.Template == nil || db.Template.Name != "postgres" || db.Template.ID == 0 || db.Template.Spec.Image != "postgres:16" {
		t.Errorf("db template not joined: %+v", db.Template)
	}
	if worker.Template != nil || worker.Enabled {
		t.Errorf("worker: template %+v enabled %v, want none and disabled", worker.Template, worker.Enabled)
	}

	checks := []struct {
		what string
		got  any
		want any
	}{
		{"db image", db.Effective.Image, spec.Value[string]{Value: "postgres:16", Source: spec.SourceTemplate}},
		{"db ports", db.Effective.Ports, spec.Value[[]spec.Port]{Value: []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}}, Source: spec.SourceUser}},
		{"db env", db.Effective.Env, []spec.EnvVar{
			{Key: "POSTGRES_DB", Value: "app", Source: spec.SourceTemplate},
			{Key: "POSTGRES_PASSWORD", Value: secretValue, Source: spec.SourceUser},
			{Key: "POSTGRES_USER", Value: "shop", Source: spec.SourceUser},
		}},
		{"db restart", db.Effective.Restart, spec.Value[string]{Value: "unless-stopped", Source: spec.SourceTemplate}},
		{"web command", web.Effective.Command, spec.Value[[]string]{Value: []string{"npm", "run", "dev"}, Source: spec.SourceTemplate}},
		{"web depends_on", web.Effective.DependsOn, spec.Value[[]spec.Dependency]{Value: []spec.Dependency{{Name: "db", Condition: spec.ConditionHealthy}}, Source: spec.SourceUser}},
		{"web labels", web.Effective.Labels, []spec.Label{{Key: "com.example.tier", Value: "web", Source: spec.SourceTemplate}}},
		{"worker image", worker.Effective.Image, spec.Value[string]{Value: "busybox:1.36", Source: spec.SourceUser}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.what, c.got, c.want)
		}
	}

	// Stack and StackByID return the same as Stacks.
	byName, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := s.StackByID(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byName, shop) || !reflect.DeepEqual(byID, shop) {
		t.Errorf("Stack/StackByID differ from Stacks:\n%+v\n%+v\n%+v", byName, byID, shop)
	}
}

// TestStackNotFound: a deleted stack is found (deleting, without
// instances) until its removal is finalised; then it is gone.
func TestStackNotFound(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("gone"))
	if err := s.DeleteStack(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	deleting, err := s.Stack(ctx, "gone")
	if err != nil || !deleting.Deleting || len(deleting.Instances) != 0 || deleting.ID != res.StackID {
		t.Fatalf("deleted stack before its removal: %+v, %v; want it deleting, without instances", deleting, err)
	}
	if byID, err := s.StackByID(ctx, res.StackID); err != nil || !byID.Deleting {
		t.Fatalf("deleted stack by id before its removal: %+v, %v; want it deleting", byID, err)
	}
	if stacks, err := s.Stacks(ctx); err != nil || len(stacks) != 1 || !stacks[0].Deleting {
		t.Fatalf("Stacks before the removal: %v %v, want the deleting stack", stackNames(stacks), err)
	}
	if done, err := s.FinalizeStack(ctx, res.StackID); err != nil || !done {
		t.Fatalf("FinalizeStack: %v, %v", done, err)
	}
	tests := []struct {
		name string
		get  func() error
	}{
		{"unknown name", func() error { _, err := s.Stack(ctx, "nope"); return err }},
		{"deleted name", func() error { _, err := s.Stack(ctx, "gone"); return err }},
		{"unknown id", func() error { _, err := s.StackByID(ctx, 999999); return err }},
		{"deleted id", func() error { _, err := s.StackByID(ctx, res.StackID); return err }},
	}
	for _, tc := range tests {
		if err := tc.get(); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}
	stacks, err := s.Stacks(ctx)
	if err != nil || len(stacks) != 0 {
		t.Errorf("Stacks after delete: %v %v, want none", stackNames(stacks), err)
	}
}

// queryCounter counts the statements a pool sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestStacksQueryCountDoesNotGrowWithStacks(t *testing.T) {
	t.Parallel()
	counter := &queryCounter{}
	s := newStore(t, state.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }))
	seedTemplates(t, s)
	ctx := testContext(t)

	measure := func() (int64, int) {
		before := counter.n.Load()
		stacks, err := s.Stacks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return counter.n.Load() - before, len(stacks)
	}
	importStack(t, s, shopStack("stack-0"))
	one, n := measure()
	if n != 1 {
		t.Fatalf("%d stacks, want 1", n)
	}
	for i := 1; i < 50; i++ {
		importStack(t, s, shopStack(fmt.Sprintf("stack-%d", i)))
	}
	fifty, n := measure()
	if n != 50 {
		t.Fatalf("%d stacks, want 50", n)
	}
	if one != fifty || one == 0 {
		t.Errorf("Stacks() sent %d statements for 1 stack and %d for 50; want the same, non-zero", one, fifty)
	}
	t.Logf("Stacks() sends %d statements", one)
}

func stackNames(stacks []spec.Stack) []string {
	var out []string
	for _, s := range stacks {
		out = append(out, s.Name)
	}
	return out
}

func instanceNames(s spec.Stack) []string {
	var out []string
	for _, i := range s.Instances {
		out = append(out, i.Name)
	}
	return out
}
