package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/devarch/devarch-controller/deploy"
)

func TestApplyFinished(t *testing.T) {
	tests := []struct {
		name        string
		results     []string
		want        map[string]float64 // results not listed must stay 0
		wantInvalid float64
	}{
		{"succeeded", []string{"succeeded"}, map[string]float64{"succeeded": 1}, 0},
		{"every known result", applyResults, map[string]float64{
			"succeeded": 1, "failed": 1, "stale": 1, "conflict": 1, "interrupted": 1, "expired": 1, "cancelled": 1,
		}, 0},
		{"failed twice", []string{"failed", "failed"}, map[string]float64{"failed": 2}, 0},
		{"unknown is rejected", []string{"exploded"}, nil, 1},
		{"pending is not final", []string{"pending", "applying"}, nil, 2},
		{"case matters", []string{"Succeeded", ""}, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, r := range tc.results {
				m.applyFinished(r)
			}
			for _, r := range applyResults {
				if got := testutil.ToFloat64(m.applyTotal.WithLabelValues(r)); got != tc.want[r] {
					t.Errorf("apply_total{result=%q} = %v, want %v", r, got, tc.want[r])
				}
			}
			wantFixedSeries(t, reg, m, "devarch_apply_total", len(applyResults), labelResult, tc.wantInvalid)
		})
	}
}

func TestObserveApplyPhase(t *testing.T) {
	tests := []struct {
		name        string
		phase       string
		took        time.Duration
		wantInvalid float64
	}{
		{"network", deploy.PhaseNetwork, 30 * time.Millisecond, 0},
		{"configs", deploy.PhaseConfigs, 5 * time.Millisecond, 0},
		{"compose", deploy.PhaseCompose, 3 * time.Minute, 0},
		{"total", deploy.PhaseTotal, 3*time.Minute + time.Second, 0},
		{"unknown phase", "pull", time.Second, 1},
		{"empty phase", "", time.Second, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			m.observeApplyPhase(tc.phase, tc.took)
			for _, p := range applyPhases {
				h := histogram(t, reg, "devarch_apply_duration_seconds", map[string]string{"phase": p})
				var wantCount uint64
				var wantSum float64
				if p == tc.phase {
					wantCount, wantSum = 1, tc.took.Seconds()
				}
				if h.GetSampleCount() != wantCount || !near(h.GetSampleSum(), wantSum) {
					t.Errorf("phase %s: count %d sum %v, want %d and %v", p, h.GetSampleCount(), h.GetSampleSum(), wantCount, wantSum)
				}
			}
			wantFixedSeries(t, reg, m, "devarch_apply_duration_seconds", len(applyPhases), labelPhase, tc.wantInvalid)
		})
	}
}

func TestApplyDurationBuckets(t *testing.T) {
	m, reg := newTest(t)
	m.observeApplyPhase(deploy.PhaseCompose, 90*time.Second)
	h := histogram(t, reg, "devarch_apply_duration_seconds", map[string]string{"phase": deploy.PhaseCompose})
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 90 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

func TestSetApprovals(t *testing.T) {
	tests := []struct {
		name        string
		calls       []map[string]int
		want        string // non-zero statuses, as status=value lines
		wantInvalid float64
	}{
		{"counts", []map[string]int{{"pending": 2, "succeeded": 10, "failed": 1}}, "failed=1 pending=2 succeeded=10", 0},
		{"missing statuses reset to 0", []map[string]int{{"pending": 3, "applying": 1}, {"succeeded": 4}}, "succeeded=4", 0},
		{"nil map resets everything", []map[string]int{{"expired": 9}, nil}, "", 0},
		{"unknown keys rejected, known kept", []map[string]int{{"pending": 1, "bogus": 5, "Pending": 2}}, "pending=1", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTest(t)
			for _, c := range tc.calls {
				m.setApprovals(c)
			}
			var got []string
			for _, s := range approvalStatuses {
				if v := testutil.ToFloat64(m.approvals.WithLabelValues(s)); v != 0 {
					got = append(got, s+"="+formatFloat(v))
				}
			}
			if g := strings.Join(sorted(got), " "); g != tc.want {
				t.Errorf("approvals = %q, want %q", g, tc.want)
			}
			wantFixedSeries(t, reg, m, "devarch_approvals", len(approvalStatuses), labelStatus, tc.wantInvalid)
		})
	}
}

func TestSetApprovalsExposition(t *testing.T) {
	m, reg := newTest(t)
	m.setApprovals(map[string]int{"pending": 1, "applying": 1, "conflict": 2})
	compare(t, reg, `
# HELP devarch_approvals Approvals currently stored, by status.
# TYPE devarch_approvals gauge
devarch_approvals{status="applying"} 1
devarch_approvals{status="cancelled"} 0
devarch_approvals{status="conflict"} 2
devarch_approvals{status="expired"} 0
devarch_approvals{status="failed"} 0
devarch_approvals{status="interrupted"} 0
devarch_approvals{status="pending"} 1
devarch_approvals{status="stale"} 0
devarch_approvals{status="succeeded"} 0
`, "devarch_approvals")
}
