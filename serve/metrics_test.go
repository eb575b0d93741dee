package serve

import (
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	registerProcessMetrics(reg, "v1.2.3")
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP devarch_build_info Always 1; labels carry the controller's version and the Go version it was built with.
# TYPE devarch_build_info gauge
devarch_build_info{go_version="`+runtime.Version()+`",version="v1.2.3"} 1
`), "devarch_build_info")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "go_goroutines", "process_start_time_seconds"); err != nil || n != 2 {
		t.Errorf("Go and process collectors: %d series (err %v), want 2", n, err)
	}
}

func TestRegisterProcessMetricsTwicePanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	registerProcessMetrics(reg, "a")
	defer func() {
		if recover() == nil {
			t.Fatal("registering the process metrics twice on one registry did not panic")
		}
	}()
	registerProcessMetrics(reg, "b")
}

// FuzzBuildInfoVersion feeds arbitrary versions (build flags are
// arbitrary text): the registry always gathers one build info series at 1
// whose version label is valid UTF-8.
func FuzzBuildInfoVersion(f *testing.F) {
	for _, seed := range []string{"v1.2.3", "", "dev", "v1\xff", "ünïcode", `q"uote\`, "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, version string) {
		reg := prometheus.NewRegistry()
		registerProcessMetrics(reg, version)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather with version %q: %v", version, err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "devarch_build_info" {
				continue
			}
			if len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() != 1 {
				t.Fatalf("version %q: build info %v, want one series at 1", version, mf.GetMetric())
			}
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				if !utf8.ValidString(lp.GetValue()) {
					t.Fatalf("version %q: label %s=%q is not UTF-8", version, lp.GetName(), lp.GetValue())
				}
			}
			return
		}
		t.Fatalf("version %q: devarch_build_info not gathered", version)
	})
}
