package plan

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// tenInstanceStack is a converged 10-instance stack built from the two test
// templates, each instance with a few overrides.
func tenInstanceStack() spec.Stack {
	s := spec.Stack{ID: 9, Name: "bench", Enabled: true}
	for i := 0; i < 10; i++ {
		t := pgTemplate()
		if i%2 == 1 {
			t = webTemplate()
		}
		s.Instances = append(s.Instances, instance(int64(100+i), fmt.Sprintf("svc-%d", i), t, spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Env:   []spec.EnvVar{{Key: "INSTANCE", Value: fmt.Sprint(i)}},
			Ports: []spec.Port{{HostIP: "127.0.0.1", HostPort: uint16(20000 + i), ContainerPort: 8080, Protocol: "tcp"}},
		}}))
	}
	return s
}

// BenchmarkCompute measures a plan for a converged 10-instance stack (the
// common steady-state case: every service hashed and compared), warm (the
// config-hash cache holds the stack, as for every plan of an unchanged
// stack after its first) and cold (the cache emptied before every call, as
// for the first plan of a stack or after any edit). Every call is timed:
// besides the mean (ns/op) it reports the median and 99th percentile of
// the individual calls (run it with -benchtime 2000x or more: percentiles
// need at least 1,000 samples).
func BenchmarkCompute(b *testing.B) {
	s := tenInstanceStack()
	d := Desired{Stack: s, Paths: testPaths}
	obs := observedFor(s)
	for _, cache := range []string{"warm", "cold"} {
		b.Run("cache="+cache, func(b *testing.B) {
			sampleCompute(b, d, obs, cache == "cold", func(p *Plan, err error) bool { return err == nil && p.Empty() })
		})
	}
}

// BenchmarkComputeAllChanged measures the worst case: every instance of a
// 10-instance stack is modified; warm and cold as BenchmarkCompute.
func BenchmarkComputeAllChanged(b *testing.B) {
	s := tenInstanceStack()
	obs := observedFor(s)
	for i := range s.Instances {
		s.Instances[i].Overrides.Image = "changed:1"
	}
	s = remerge(s)
	d := Desired{Stack: s, Paths: testPaths}
	for _, cache := range []string{"warm", "cold"} {
		b.Run("cache="+cache, func(b *testing.B) {
			sampleCompute(b, d, obs, cache == "cold", func(p *Plan, err error) bool { return err == nil && p.Summary.Modify == 10 })
		})
	}
}

// minSamples is the fewest timed calls percentiles are reported from.
const minSamples = 1000

// sampleCompute runs Compute in a benchmark loop and times every call.
// cold empties the config-hash cache before each call (outside the timed
// call; a warm run fills it once before the loop). ok checks each plan. It
// reports p50-us and p99-us (nearest rank over the calls) and samples.
func sampleCompute(b *testing.B, d Desired, obs Observed, cold bool, ok func(*Plan, error) bool) {
	b.Helper()
	if p, err := Compute(d, obs, testNow); !ok(p, err) {
		b.Fatalf("unexpected plan: %v %+v", err, p)
	}
	var samples []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if cold {
			emptyHashCache()
		}
		start := time.Now()
		p, err := Compute(d, obs, testNow)
		samples = append(samples, time.Since(start))
		if !ok(p, err) {
			b.Fatalf("unexpected plan: %v %+v", err, p)
		}
	}
	b.StopTimer()
	reportPercentiles(b, samples)
}

// reportPercentiles reports the median and 99th percentile of samples in
// microseconds, and their number; with fewer than minSamples it reports
// only the number and says why.
func reportPercentiles(b *testing.B, samples []time.Duration) {
	b.Helper()
	b.ReportMetric(float64(len(samples)), "samples")
	if len(samples) < minSamples {
		b.Logf("%d samples: no percentiles (they need at least %d; run with -benchtime %dx)", len(samples), minSamples, 2*minSamples)
		return
	}
	slices.Sort(samples)
	for _, p := range []struct {
		unit string
		q    float64
	}{{"p50-us", 0.50}, {"p99-us", 0.99}} {
		b.ReportMetric(float64(percentile(samples, p.q))/float64(time.Microsecond), p.unit)
	}
}

// percentile returns the q-quantile of sorted samples by nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// emptyHashCache empties the config-hash cache: the next Compute hashes
// every service again.
func emptyHashCache() {
	hashes.mu.Lock()
	clear(hashes.m)
	hashes.mu.Unlock()
}

func BenchmarkToken(b *testing.B) {
	s := tenInstanceStack()
	b.ReportAllocs()
	for b.Loop() {
		_ = Token(Desired{Stack: s, Paths: testPaths})
	}
}

func TestPercentile(t *testing.T) {
	samples := make([]time.Duration, 1000)
	for i := range samples {
		samples[i] = time.Duration(i+1) * time.Microsecond
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0, time.Microsecond}} {
		if got := percentile(samples, tt.q); got != tt.want {
			t.Errorf("percentile(1..1000 µs, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// TestEmptyHashCacheMakesComputeCold checks that the cold benchmarks
// measure what they say: after emptyHashCache the next Compute hashes every
// service again (the cache fills), and the plan is the same.
func TestEmptyHashCacheMakesComputeCold(t *testing.T) {
	s := tenInstanceStack()
	d := Desired{Stack: s, Paths: testPaths}
	warm, err := Compute(d, observedFor(s), testNow)
	if err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		hashes.mu.Lock()
		defer hashes.mu.Unlock()
		return len(hashes.m)
	}
	emptyHashCache()
	if n := cached(); n != 0 {
		t.Fatalf("cache holds %d hashes after emptyHashCache, want 0", n)
	}
	cold, err := Compute(d, observedFor(s), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if n := cached(); n != len(s.Instances) {
		t.Errorf("cache holds %d hashes after a cold Compute, want %d (one per instance)", n, len(s.Instances))
	}
	if !warm.Empty() || !cold.Empty() {
		t.Errorf("warm plan empty %v, cold plan empty %v; want both empty", warm.Empty(), cold.Empty())
	}
}
