package state_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/state"
)

// BenchmarkStacks reads 1,000 stacks of 3 instances each.
func BenchmarkStacks(b *testing.B) {
	url := testenv.DatabaseURL(b)
	ctx := context.Background()
	if err := state.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	s, err := state.Open(ctx, url, "state-bench")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, tmpl := range fixtureTemplates() {
		if _, err := s.UpsertTemplate(ctx, tmpl, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	const stacks = 1000
	for i := range stacks {
		if _, err := s.ImportStack(ctx, shopStack(fmt.Sprintf("stack-%04d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		list, err := s.Stacks(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != stacks {
			b.Fatalf("%d stacks, want %d", len(list), stacks)
		}
	}
}
