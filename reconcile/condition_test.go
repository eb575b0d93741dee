package reconcile

import (
	"errors"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
)

// TestCondition pins the one derivation of a stack's condition: an
// approval applying wins, then a plan that could not be made is Error,
// then a plan with changes is Drifted, else InSync; and newStatus carries
// the plan's counts, token and summary, the error, or the apply under way.
func TestCondition(t *testing.T) {
	s := unitStack(1, "shop")
	empty := &plan.Plan{StackID: 1, Stack: "shop", Token: "t0", Changes: []plan.Change{}}
	drifted := &plan.Plan{StackID: 1, Stack: "shop", Token: "t1", Summary: plan.Summary{Add: 1, Remove: 2},
		Changes: []plan.Change{{Action: plan.ActionAdd}, {Action: plan.ActionRemove}, {Action: plan.ActionRemove}}}
	boom := errors.New("observe containers: engine down")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		p        *plan.Plan
		err      error
		applying bool
		want     Condition
		message  string
		counts   [3]int
		token    string
	}{
		{"empty plan", empty, nil, false, InSync, empty.SummaryLine(), [3]int{}, "t0"},
		{"plan with changes", drifted, nil, false, Drifted, drifted.SummaryLine(), [3]int{1, 0, 2}, "t1"},
		{"no plan", nil, boom, false, Error, boom.Error(), [3]int{}, ""},
		{"applying wins over changes", drifted, nil, true, Applying, messageApplying, [3]int{1, 0, 2}, "t1"},
		{"applying wins over an error", nil, boom, true, Applying, messageApplying, [3]int{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := condition(tt.p, tt.err, tt.applying); got != tt.want {
				t.Errorf("condition = %s, want %s", got, tt.want)
			}
			st := newStatus(s, tt.p, tt.err, tt.applying, now)
			counts := [3]int{st.Counts["add"], st.Counts["modify"], st.Counts["remove"]}
			if st.Condition != tt.want || st.Message != tt.message || counts != tt.counts || st.Token != tt.token ||
				!st.LastReconcile.Equal(now) || st.StackID != 1 || st.Stack != "shop" {
				t.Errorf("newStatus = %+v, want %s, message %q, counts %v, token %q", st, tt.want, tt.message, tt.counts, tt.token)
			}
		})
	}
}
