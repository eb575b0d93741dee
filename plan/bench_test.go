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
			Env:     []spec.EnvVar{{Key: "INSTANCE", Value: fmt.Sprint(i)}},
			Ports:   []spec.Port{{HostIP: "127.0.0.1", HostPort: uint16(20000 + i), ContainerPort: 8080, Protocol: "tcp"}},
			Options: benchOptions(i),
		}}))
	}
	return s
}

// benchOptions are the compose keys a real service sets beyond the core
// ones (the full model: hostname, sandbox, limits, logging...).
func benchOptions(i int) spec.Options {
	grace := spec.Duration(10 * time.Second)
	yes := true
	return spec.Options{
		Hostname: fmt.Sprintf("svc-%d", i), ReadOnly: true, Init: &yes, CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true"}, Sysctls: map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:   map[string]spec.Ulimit{"nofile": {Soft: 65536, Hard: 65536}},
		PidsLimit: 200, StopSignal: "SIGTERM", StopGracePeriod: &grace,
		ExtraHosts: []string{"host.docker.internal=host-gateway"}, DNSSearch: []string{"example.test"},
		Logging: &spec.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}},
		Tmpfs:   []string{"/tmp"}, ShmSize: 64 << 20, MemLimit: 512 << 20, CPUs: 0.5,
		Deploy: &spec.Deploy{Resources: spec.Resources{Reservations: &spec.Resource{Memory: 128 << 20}}},
	}.Canonical()
}

// BenchmarkCompute measures a plan for a converged 10-instance stack (the
// common steady-state case: every service hashed and compared), warm (the
// config-hash cache holds the stack, as for every plan of an unchanged
// stack after its first) and cold (the cache emptied before every call, as
// for the first plan of a stack or after any edit). Every call is timed:
// besides the mean (ns/op) it reports the median and 99th percentile of
// the individual calls (run it with -benchtime 2000x or more: percentiles
// need at least 1,000 samples).
//
// The stack carries content digests as the store sets them when it reads a
// stack (withDigests): the planner only ever plans stacks read from the
// store.
func BenchmarkCompute(b *testing.B) {
	s := withDigests(tenInstanceStack())
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
	s = withDigests(remerge(s))
	d := Desired{Stack: s, Paths: testPaths}
	for _, cache := range []string{"warm", "cold"} {
		b.Run("cache="+cache, func(b *testing.B) {
			sampleCompute(b, d, obs, cache == "cold", func(p *Plan, err error) bool { return err == nil && p.Summary.Modify == 10 })
		})
	}
}

// minSamples is the fewest timed calls percentiles are reported from.
const minSamples = 1000

// sampleCompute runs ComputeCached in a benchmark loop and times every
// call. A warm run fills one config-hash cache before the loop; a cold run
// gives each call an empty one (made outside the timed call). ok checks
// each plan. It reports p50-us and p99-us (nearest rank over the calls)
// and samples.
func sampleCompute(b *testing.B, d Desired, obs Observed, cold bool, ok func(*Plan, error) bool) {
	b.Helper()
	hashes := NewHashCache()
	if p, err := ComputeCached(d, obs, testNow, hashes); !ok(p, err) {
		b.Fatalf("unexpected plan: %v %+v", err, p)
	}
	var samples []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if cold {
			hashes = NewHashCache()
		}
		start := time.Now()
		p, err := ComputeCached(d, obs, testNow, hashes)
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

// BenchmarkToken measures the staleness token of a 10-instance stack read
// from the store (made from content digests) and of one built in memory
// (made from the encoded content).
func BenchmarkToken(b *testing.B) {
	for name, s := range map[string]spec.Stack{"stored": withDigests(tenInstanceStack()), "in-memory": tenInstanceStack()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Token(Desired{Stack: s, Paths: testPaths})
			}
		})
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

// TestHashCacheIsExact checks what the warm and cold benchmarks rely on:
// a ComputeCached with an empty cache hashes every service (the cache
// fills, one hash per instance), a second one reuses them, and every plan
// equals Compute's, which caches nothing.
func TestHashCacheIsExact(t *testing.T) {
	s := tenInstanceStack()
	d := Desired{Stack: s, Paths: testPaths}
	uncached, err := Compute(d, observedFor(s), testNow)
	if err != nil {
		t.Fatal(err)
	}
	hashes := NewHashCache()
	cold, err := ComputeCached(d, observedFor(s), testNow, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if n := hashes.Len(); n != len(s.Instances) {
		t.Errorf("cache holds %d hashes after a cold ComputeCached, want %d (one per instance)", n, len(s.Instances))
	}
	warm, err := ComputeCached(d, observedFor(s), testNow, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if n := hashes.Len(); n != len(s.Instances) {
		t.Errorf("cache holds %d hashes after a warm ComputeCached, want %d", n, len(s.Instances))
	}
	if !uncached.Empty() || !warm.Empty() || !cold.Empty() {
		t.Errorf("uncached plan empty %v, cold %v, warm %v; want all empty", uncached.Empty(), cold.Empty(), warm.Empty())
	}
	if (*HashCache)(nil).Len() != 0 {
		t.Error("a nil cache holds hashes")
	}
}
