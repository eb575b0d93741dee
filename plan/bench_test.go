package plan

import (
	"fmt"
	"testing"

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
// common steady-state case: every service hashed and compared).
func BenchmarkCompute(b *testing.B) {
	s := tenInstanceStack()
	obs := observedFor(s)
	d := Desired{Stack: s, Paths: testPaths}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Compute(d, obs, testNow)
		if err != nil || !p.Empty() {
			b.Fatalf("unexpected plan: %v %+v", err, p)
		}
	}
}

// BenchmarkComputeAllChanged measures the worst case: every instance of a
// 10-instance stack is modified.
func BenchmarkComputeAllChanged(b *testing.B) {
	s := tenInstanceStack()
	obs := observedFor(s)
	for i := range s.Instances {
		s.Instances[i].Overrides.Image = "changed:1"
	}
	s = remerge(s)
	d := Desired{Stack: s, Paths: testPaths}
	b.ReportAllocs()
	for b.Loop() {
		if p, err := Compute(d, obs, testNow); err != nil || p.Summary.Modify != 10 {
			b.Fatalf("unexpected plan: %v %+v", err, p.Summary)
		}
	}
}

func BenchmarkToken(b *testing.B) {
	s := tenInstanceStack()
	b.ReportAllocs()
	for b.Loop() {
		_ = Token(Desired{Stack: s, Paths: testPaths})
	}
}
