package reconcile

import (
	"slices"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
)

var (
	// applyPhases are the phase label of devarch_apply_duration_seconds:
	// the apply's phases that change something, and the whole apply.
	applyPhases = []string{deploy.PhaseImages, deploy.PhaseNetwork, deploy.PhaseConfigs, deploy.PhaseCompose, deploy.PhaseRemove, deploy.PhaseTotal}

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

// observeApply records an approval that reached its final status result
// and, for an apply that reached the runtime, how long each of its phases
// took (durations by deploy phase; the build phase is not exported).
func (m *metrics) observeApply(result string, durations map[string]time.Duration) {
	m.applyFinished(result)
	for phase, d := range durations {
		if phase != deploy.PhaseBuild {
			m.observeApplyPhase(phase, d)
		}
	}
}

// applyFinished records an approval that reached its final status result
// (devarch_apply_total{result}). result is one of succeeded, failed, stale,
// conflict, interrupted, expired, cancelled; any other value is rejected.
func (m *metrics) applyFinished(result string) {
	if !slices.Contains(applyResults, result) {
		m.reject(labelResult)
		return
	}
	m.applyTotal.WithLabelValues(result).Inc()
}

// observeApplyPhase records how long one phase of an apply took
// (devarch_apply_duration_seconds{phase}). phase is one of network,
// configs, compose, total (deploy.Phase*); any other value is rejected.
// Observe total only for applies that reached the runtime (after the lock
// and token checks), so stale and conflicting approvals, which touch
// nothing, do not pull the quantiles down.
func (m *metrics) observeApplyPhase(phase string, took time.Duration) {
	if !slices.Contains(applyPhases, phase) {
		m.reject(labelPhase)
		return
	}
	m.applyDuration.WithLabelValues(phase).Observe(took.Seconds())
}

// setApprovals sets devarch_approvals{status} from counts of approval rows
// by status. Known statuses missing from counts are set to 0. Keys outside
// the fixed set (pending, applying, succeeded, failed, stale, conflict,
// interrupted, expired, cancelled) are rejected, one rejection per key; the
// known keys are still set.
func (m *metrics) setApprovals(counts map[string]int) {
	for status := range counts {
		if !slices.Contains(approvalStatuses, status) {
			m.reject(labelStatus)
		}
	}
	for _, status := range approvalStatuses {
		m.approvals.WithLabelValues(status).Set(float64(counts[status]))
	}
}

// applyMismatch records one difference between what an apply's plan
// predicted and the engine after it (devarch_apply_mismatch_total{kind});
// a kind outside plan.MismatchKinds is rejected.
func (m *metrics) applyMismatch(kind plan.MismatchKind) {
	if !slices.Contains(plan.MismatchKinds(), kind) {
		m.reject(labelKind)
		return
	}
	m.applyMismatches.WithLabelValues(string(kind)).Inc()
}
