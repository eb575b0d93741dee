package reconcile

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/devarch/devarch-controller/state"
)

var (
	// planActions are the action label of devarch_stack_changes.
	planActions = []string{"add", "modify", "remove"}
	// stackConditions are the condition label of devarch_stack_condition.
	stackConditions = []string{InSync, Drifted, Applying, Error}
)

// stackCollectors are the per-stack series, all labeled by stack.
type stackCollectors struct {
	drifted       *prometheus.GaugeVec
	changes       *prometheus.GaugeVec
	lastReconcile *prometheus.GaugeVec
	condition     *prometheus.GaugeVec
}

// all lists the per-stack vectors, so deleting a stack cannot miss one.
func (s stackCollectors) all() []*prometheus.GaugeVec {
	return []*prometheus.GaugeVec{s.drifted, s.changes, s.lastReconcile, s.condition}
}

// stackState is what the metrics show about one stack after a
// reconciliation.
type stackState struct {
	// Drifted is true when the stack's plan is not empty.
	Drifted bool
	// Add, Modify and Remove count the plan's entries by action.
	Add, Modify, Remove int
	// Condition is one of InSync, Drifted, Applying, Error.
	Condition string
	// LastReconcile is when the stack was last reconciled; the zero time
	// means never and is exported as 0.
	LastReconcile time.Time
}

func newStackCollectors(f promauto.Factory) stackCollectors {
	return stackCollectors{
		drifted: gaugeVec(f, "devarch_stack_drifted",
			"1 when the stack's plan has changes (desired and actual state differ), else 0; engine is the engine the stack runs on.", labelStack, labelEngine),
		changes: gaugeVec(f, "devarch_stack_changes",
			"Entries in the stack's current plan, by action: add, modify or remove.", labelStack, labelAction),
		lastReconcile: gaugeVec(f, "devarch_stack_last_reconcile_timestamp_seconds",
			"Unix time of the stack's last reconciliation; 0 if it was never reconciled.", labelStack),
		condition: gaugeVec(f, "devarch_stack_condition",
			"1 for the stack's current condition (InSync, Drifted, Applying or Error), 0 for the others.", labelStack, labelCondition),
	}
}

// setStackStatus sets every per-stack series of the stack of st: drifted
// when its plan has changes, the change counts by action, its condition
// and when it was reconciled.
func (m *metrics) setStackStatus(st state.StackStatus) {
	m.setStack(st.Stack, st.Engine, stackStateOf(st))
}

// stackStateOf is what the metrics show of a stack status.
func stackStateOf(st state.StackStatus) stackState {
	add, mod, rem := st.Counts["add"], st.Counts["modify"], st.Counts["remove"]
	return stackState{
		Drifted: add+mod+rem > 0, Add: add, Modify: mod, Remove: rem, Condition: st.Condition, LastReconcile: st.LastReconcile,
	}
}

// setStack sets every per-stack series of stack name from st. An empty
// name or one that is not valid UTF-8 (Prometheus cannot carry it) is
// rejected and records nothing. A condition outside InSync, Drifted,
// Applying, Error is rejected: every condition series of the stack is set
// to 0 and the other series are still set.
func (m *metrics) setStack(name, engine string, st stackState) {
	if name == "" || !utf8.ValidString(name) {
		m.reject(labelStack)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known[name] = struct{}{}

	s := m.stacks
	if m.engines[name] != engine {
		// The stack moved to another engine: its old series goes.
		s.drifted.DeletePartialMatch(prometheus.Labels{labelStack: name})
		m.engines[name] = engine
	}
	s.drifted.WithLabelValues(name, engine).Set(boolValue(st.Drifted))
	for i, n := range []int{st.Add, st.Modify, st.Remove} {
		s.changes.WithLabelValues(name, planActions[i]).Set(float64(n))
	}
	s.lastReconcile.WithLabelValues(name).Set(unixSeconds(st.LastReconcile))
	if !slices.Contains(stackConditions, st.Condition) {
		m.reject(labelCondition)
	}
	for _, c := range stackConditions {
		s.condition.WithLabelValues(name, c).Set(boolValue(c == st.Condition))
	}
}

// deleteStack removes every series of stack name, for a stack that was
// deleted or renamed. Deleting an unknown stack does nothing.
func (m *metrics) deleteStack(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteStackLocked(name)
}

// retainStacks removes every series of the stacks not in names. The loop
// calls it after a full pass with the stacks that exist, so series of
// stacks deleted while the controller was not watching disappear too. A
// stack created after names was listed loses its series until its next
// setStack, which the loop does when it reconciles the new stack.
func (m *metrics) retainStacks(names []string) {
	keep := make(map[string]struct{}, len(names))
	for _, n := range names {
		keep[n] = struct{}{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.known {
		if _, ok := keep[name]; !ok {
			m.deleteStackLocked(name)
		}
	}
}

func (m *metrics) deleteStackLocked(name string) {
	for _, v := range m.stacks.all() {
		v.DeletePartialMatch(prometheus.Labels{labelStack: name})
	}
	delete(m.known, name)
	delete(m.engines, name)
}

// unixSeconds is t as fractional Unix seconds, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
