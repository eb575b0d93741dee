package reconcile

import (
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// Condition is a stack's state in one word, as in Kubernetes conditions.
type Condition = string

// Conditions.
const (
	// InSync: the plan is empty.
	InSync Condition = "InSync"
	// Drifted: the plan has changes (desired state edited, or the runtime
	// changed behind the controller's back).
	Drifted Condition = "Drifted"
	// Applying: an approved plan is being applied.
	Applying Condition = "Applying"
	// Error: the stack could not be planned (runtime or database
	// unreachable, invalid desired state).
	Error Condition = "Error"
)

// Conditions returns every condition.
func Conditions() []Condition { return []Condition{InSync, Drifted, Applying, Error} }

// sameStatus reports whether two statuses differ only in their reconcile
// time: such a status is not written again.
func sameStatus(a, b state.StackStatus) bool {
	if a.StackID != b.StackID || a.Stack != b.Stack || a.Condition != b.Condition || a.Token != b.Token || a.Message != b.Message || len(a.Counts) != len(b.Counts) {
		return false
	}
	for k, v := range a.Counts {
		if b.Counts[k] != v {
			return false
		}
	}
	return true
}

// condition is a stack's condition, derived here and nowhere else: the
// status row the loop records carries it, and the API, the dashboard and
// the metrics read it from there. An approval applying wins; then a plan
// that could not be made (err: the engine or the desired state) is Error;
// then a plan with changes is Drifted; otherwise the stack is InSync.
func condition(p *plan.Plan, err error, applying bool) Condition {
	switch {
	case applying:
		return Applying
	case err != nil || p == nil:
		return Error
	case !p.Empty():
		return Drifted
	}
	return InSync
}

// newStatus is the status a pass records for stack s: its plan p (nil when
// it could not be computed, err says why) and whether an approval of the
// stack is applying. Counts and token are the plan's (zero without one);
// the message says the apply is under way, else the error, else the plan's
// summary.
func newStatus(s spec.Stack, p *plan.Plan, err error, applying bool, now time.Time) state.StackStatus {
	st := state.StackStatus{StackID: s.ID, Stack: s.Name, Engine: s.Engine, LastReconcile: now, Condition: condition(p, err, applying),
		Counts: map[string]int{"add": 0, "modify": 0, "remove": 0}}
	if p != nil {
		st.Token, st.Message = p.Token, p.SummaryLine()
		st.Counts = map[string]int{"add": p.Summary.Add, "modify": p.Summary.Modify, "remove": p.Summary.Remove}
	}
	switch {
	case applying:
		st.Message = messageApplying
	case err != nil:
		st.Message = err.Error()
	}
	return st
}

// messageApplying is the status message while an approved plan is
// applied.
const messageApplying = "Applying an approved plan."
