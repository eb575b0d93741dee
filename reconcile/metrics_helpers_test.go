package reconcile

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// family returns the gathered family name; it fails the test if absent.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("family %s not gathered", name)
	return nil
}

// histogram returns the histogram of family name whose labels are exactly
// labels.
func histogram(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	for _, m := range family(t, reg, name).GetMetric() {
		if labelsEqual(m.GetLabel(), labels) {
			return m.GetHistogram()
		}
	}
	t.Fatalf("%s%v: no such series", name, labels)
	return nil
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, lp := range got {
		if v, ok := want[lp.GetName()]; !ok || v != lp.GetValue() {
			return false
		}
	}
	return true
}

// seriesWith lists every gathered series (as family{labels}) that carries
// label=value, sorted.
func seriesWith(t *testing.T, reg prometheus.Gatherer, label, value string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var pairs []string
			match := false
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName()+"="+lp.GetValue())
				match = match || (lp.GetName() == label && lp.GetValue() == value)
			}
			if match {
				out = append(out, mf.GetName()+"{"+strings.Join(pairs, ",")+"}")
			}
		}
	}
	sort.Strings(out)
	return out
}

// invalid returns devarch_metrics_invalid_label_values_total{label}.
func invalid(m *metrics, label string) float64 {
	return testutil.ToFloat64(m.invalid.WithLabelValues(label))
}

// wantFixedSeries checks that family has exactly one series per value of
// its fixed label set (n: no new label values), and that label rejected
// wantInvalid values.
func wantFixedSeries(t *testing.T, reg *prometheus.Registry, m *metrics, family string, n int, label string, wantInvalid float64) {
	t.Helper()
	if got, _ := testutil.GatherAndCount(reg, family); got != n {
		t.Errorf("%s has %d series, want %d (no new label values)", family, got, n)
	}
	if got := invalid(m, label); got != wantInvalid {
		t.Errorf("invalid{label=%s} = %v, want %v", label, got, wantInvalid)
	}
}

// populate gives every family of m at least one series with a non-zero
// value, so exposition and lint tests see everything the loop exports.
func populate(m *metrics) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.observeReconcile(reconcileSuccess, 12*time.Millisecond)
	m.setStack("shop", "default", stackState{Drifted: true, Add: 1, Modify: 2, Condition: "Drifted", LastReconcile: now})
	m.setStack("blog", "default", stackState{Condition: "InSync", LastReconcile: now})
	m.applyFinished("succeeded")
	for _, p := range applyPhases {
		m.observeApplyPhase(p, 1500*time.Millisecond)
	}
	m.setApprovals(map[string]int{"pending": 2, "succeeded": 5})
	m.lockConflict()
	m.setQueueDepthFunc(func() int { return 4 })
	m.setRuntimeUp("default", true)
	m.setDatabaseUp(true)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
