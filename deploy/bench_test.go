package deploy

import (
	"context"
	"fmt"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// benchStack is a 10-service stack of the test image.
func benchStack(b *testing.B) *applyFixture {
	var insts []spec.Instance
	for i := 1; i <= 10; i++ {
		insts = append(insts, sleeperInstance(int64(i), fmt.Sprintf("svc-%d", i), spec.Overrides{}))
	}
	return newBenchFixture(b, insts...)
}

// BenchmarkApplyConverged measures apply of an already converged
// 10-service stack: compose finds nothing to do.
func BenchmarkApplyConverged(b *testing.B) {
	f := benchStack(b)
	if _, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil)
		if err != nil || len(res.Created)+len(res.Recreated) != 0 {
			b.Fatalf("no-op apply changed something: %v %+v", err, res)
		}
	}
}

// BenchmarkApplyFromScratch measures apply of a 10-service stack with no
// containers (the teardown between iterations is not timed).
func BenchmarkApplyFromScratch(b *testing.B) {
	f := benchStack(b)
	down := f.stack
	down.Enabled = false
	for b.Loop() {
		res, err := f.rt.Apply(context.Background(), f.stack, f.opts, nil)
		if err != nil || len(res.Created) != 10 {
			b.Fatalf("apply: %v %+v", err, res)
		}
		b.StopTimer()
		if _, err := f.rt.Apply(context.Background(), down, f.opts, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
