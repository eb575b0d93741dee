package reconcile

import (
	"time"

	"github.com/devarch/devarch-controller/plan"
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

// statusFromPlan derives a stack's status from its plan; an approval
// applying wins over the plan's content.
func statusFromPlan(p *plan.Plan, applying bool, now time.Time) state.StackStatus {
	st := state.StackStatus{
		StackID: p.StackID, Stack: p.Stack, Token: p.Token, LastReconcile: now, Condition: InSync, Message: p.SummaryLine(),
		Counts: map[string]int{"add": p.Summary.Add, "modify": p.Summary.Modify, "remove": p.Summary.Remove},
	}
	switch {
	case applying:
		st.Condition = Applying
	case !p.Empty():
		st.Condition = Drifted
	}
	return st
}

// statusFromError is the status of a stack that could not be planned.
func statusFromError(id int64, name string, err error, now time.Time) state.StackStatus {
	return state.StackStatus{StackID: id, Stack: name, Condition: Error, Message: err.Error(), LastReconcile: now,
		Counts: map[string]int{"add": 0, "modify": 0, "remove": 0}}
}
