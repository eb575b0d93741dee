package approval_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/devarch/devarch-controller/approval"
)

// TestTransitionTable checks the shape of the lifecycle: every transition
// joins two known statuses, nothing leaves a final status, every status is
// reachable from pending, and an apply can end in each outcome.
func TestTransitionTable(t *testing.T) {
	seen := map[approval.Transition]bool{}
	for _, tr := range approval.Transitions() {
		if !tr.From.Known() || !tr.To.Known() {
			t.Errorf("transition %s → %s names an unknown status", tr.From, tr.To)
		}
		if tr.From == tr.To {
			t.Errorf("transition %s → %s does not change the status", tr.From, tr.To)
		}
		if tr.From.Final() {
			t.Errorf("transition %s → %s leaves a final status", tr.From, tr.To)
		}
		if seen[tr] {
			t.Errorf("transition %s → %s is listed twice", tr.From, tr.To)
		}
		seen[tr] = true
	}
	reached := map[approval.Status]bool{approval.Pending: true}
	for changed := true; changed; {
		changed = false
		for _, tr := range approval.Transitions() {
			if reached[tr.From] && !reached[tr.To] {
				reached[tr.To], changed = true, true
			}
		}
	}
	for _, s := range approval.Statuses() {
		if !reached[s] {
			t.Errorf("status %s cannot be reached from pending", s)
		}
	}
	for _, o := range approval.Outcomes() {
		if !approval.CanTransition(approval.Applying, o) || !o.Final() {
			t.Errorf("outcome %s: not a final status an applying approval can reach", o)
		}
	}
	var fromApplying []approval.Status
	for _, s := range approval.Statuses() {
		if approval.CanTransition(approval.Applying, s) {
			fromApplying = append(fromApplying, s)
		}
	}
	if !slices.Equal(fromApplying, approval.Outcomes()) {
		t.Errorf("applying can become %v, Outcomes says %v", fromApplying, approval.Outcomes())
	}
}

// TestCanTransition pins the lifecycle as it is: a change here changes
// what the controller, the sweep and the database accept.
func TestCanTransition(t *testing.T) {
	allowed := map[approval.Status][]approval.Status{
		approval.Pending:  {approval.Applying, approval.Expired, approval.Cancelled},
		approval.Applying: {approval.Succeeded, approval.Failed, approval.Stale, approval.Conflict, approval.Interrupted},
	}
	for _, from := range approval.Statuses() {
		for _, to := range approval.Statuses() {
			want := slices.Contains(allowed[from], to)
			if got := approval.CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	if approval.CanTransition(approval.Pending, "done") || approval.CanTransition("done", approval.Pending) {
		t.Error("an unknown status can be changed to or from")
	}
}

func TestFinalAndKnown(t *testing.T) {
	for _, s := range approval.Statuses() {
		if !s.Known() {
			t.Errorf("%s is not known", s)
		}
		if want := s != approval.Pending && s != approval.Applying; s.Final() != want {
			t.Errorf("%s.Final() = %v, want %v", s, !want, want)
		}
	}
	for _, s := range []approval.Status{"", "done", "Pending", "succeeded "} {
		if s.Known() || s.Final() {
			t.Errorf("unknown status %q is known or final", s)
		}
	}
}

// TestStatusJSON: the typed status is the same text in JSON as before.
func TestStatusJSON(t *testing.T) {
	b, err := json.Marshal(approval.Approval{Status: approval.Succeeded})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != "succeeded" {
		t.Errorf("status in JSON = %v, want \"succeeded\"", m["status"])
	}
}
