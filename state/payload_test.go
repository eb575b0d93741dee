package state_test

import (
	"encoding/json"
	"testing"

	"github.com/devarch/devarch-controller/state"
)

func TestParseDesiredChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		ok      bool
	}{
		{`{"id": 3, "kind": "stack", "stack_id": 3}`, true},
		{`{"id": 7, "kind": "instance", "stack_id": 3}`, true},
		{`{"id": 2, "kind": "template", "stack_id": null}`, true},
		{`{"id": 2, "kind": "template", "stack_id": 4}`, false},
		{`{"id": 1, "kind": "installation", "stack_id": null}`, true},
		{`{"id": 1, "kind": "installation", "stack_id": 3}`, false},
		{`{"id": 7, "kind": "instance", "stack_id": null}`, false},
		{`{"id": 0, "kind": "stack", "stack_id": 1}`, false},
		{`{"id": 1, "kind": "volume", "stack_id": 1}`, false},
		{`not json`, false},
	}
	for _, tc := range tests {
		_, err := state.ParseDesiredChange(tc.payload)
		if (err == nil) != tc.ok {
			t.Errorf("ParseDesiredChange(%s): err %v, want ok=%v", tc.payload, err, tc.ok)
		}
	}
}

func FuzzParsePayloads(f *testing.F) {
	f.Add(`{"id": 3, "kind": "stack", "stack_id": 3}`)
	f.Add(`{"id": 2, "kind": "template", "stack_id": null}`)
	f.Add(`{"id": 1, "kind": "installation", "stack_id": null}`)
	f.Add(`{"id": 1, "stack_id": 2, "status": "pending"}`)
	f.Add(`{"approval_id": 1, "seq": 2}`)
	f.Add(`{"id": -1}`)
	f.Fuzz(func(t *testing.T, payload string) {
		if c, err := state.ParseDesiredChange(payload); err == nil {
			b, _ := json.Marshal(c)
			if again, err := state.ParseDesiredChange(string(b)); err != nil || again.Kind != c.Kind || again.ID != c.ID {
				t.Fatalf("desired change %+v does not round-trip: %v", c, err)
			}
		}
		if c, err := state.ParseApprovalChange(payload); err == nil && (c.ID <= 0 || c.StackID <= 0 || c.Status == "") {
			t.Fatalf("accepted approval change %+v", c)
		}
		if c, err := state.ParseApprovalEventChange(payload); err == nil && (c.ApprovalID <= 0 || c.Seq <= 0) {
			t.Fatalf("accepted approval event %+v", c)
		}
	})
}
