package metrics

import (
	"slices"
	"time"

	"github.com/devarch/devarch-controller/approval"
)

// Apply phases: the phase label of devarch_apply_duration_seconds.
const (
	// PhaseNetwork is ensuring the stack's network exists.
	PhaseNetwork = "network"
	// PhaseConfigs is materializing config files into the state dir.
	PhaseConfigs = "configs"
	// PhaseCompose is compose up with orphan removal.
	PhaseCompose = "compose"
	// PhaseTotal is the whole apply, from lock to final status.
	PhaseTotal = "total"
)

var (
	applyPhases = []string{PhaseNetwork, PhaseConfigs, PhaseCompose, PhaseTotal}

	// applyResults are the final statuses of an approval
	// (approval.Status.Final): the result label of devarch_apply_total.
	applyResults = labels(approval.Status.Final)

	// approvalStatuses are every status an approval row can have
	// (approval.Statuses): the status label of devarch_approvals.
	approvalStatuses = labels(approval.Status.Known)
)

// labels are the approval statuses that keep holds, in lifecycle order, as
// label values.
func labels(keep func(approval.Status) bool) []string {
	var out []string
	for _, s := range approval.Statuses() {
		if keep(s) {
			out = append(out, string(s))
		}
	}
	return out
}

// ApplyFinished records an approval that reached its final status result
// (devarch_apply_total{result}). result is one of succeeded, failed, stale,
// conflict, interrupted, expired, cancelled; any other value is rejected
// (see the package documentation).
func (m *Metrics) ApplyFinished(result string) {
	if m == nil {
		return
	}
	if !slices.Contains(applyResults, result) {
		m.reject(labelResult)
		return
	}
	m.applyTotal.WithLabelValues(result).Inc()
}

// ObserveApplyPhase records how long one phase of an apply took
// (devarch_apply_duration_seconds{phase}). phase is one of PhaseNetwork,
// PhaseConfigs, PhaseCompose, PhaseTotal; any other value is rejected.
// Observe PhaseTotal only for applies that reached the runtime (after the
// lock and token checks), so stale and conflicting approvals, which touch
// nothing, do not pull the quantiles down.
func (m *Metrics) ObserveApplyPhase(phase string, took time.Duration) {
	if m == nil {
		return
	}
	if !slices.Contains(applyPhases, phase) {
		m.reject(labelPhase)
		return
	}
	m.applyDuration.WithLabelValues(phase).Observe(took.Seconds())
}

// SetApprovals sets devarch_approvals{status} from counts of approval rows
// by status. Known statuses missing from counts are set to 0. Keys outside
// the fixed set (pending, applying, succeeded, failed, stale, conflict,
// interrupted, expired, cancelled) are rejected, one rejection per key; the
// known keys are still set.
func (m *Metrics) SetApprovals(counts map[string]int) {
	if m == nil {
		return
	}
	for status := range counts {
		if !slices.Contains(approvalStatuses, status) {
			m.reject(labelStatus)
		}
	}
	for _, status := range approvalStatuses {
		m.approvals.WithLabelValues(status).Set(float64(counts[status]))
	}
}
