package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
)

// TestWriteMismatches: apply warns of every difference the controller's
// check found, and stays silent without any.
func TestWriteMismatches(t *testing.T) {
	res, err := json.Marshal(deploy.Result{Mismatches: []plan.Mismatch{
		{Kind: plan.MismatchNotApplied, Instance: "web", Field: "state", Detail: `state is "exited (0)" on the engine, the plan wanted "running"`},
		{Kind: plan.MismatchUnplanned, Instance: "api", Field: "container", Detail: "the plan left container 1234 alone; it is gone after the apply"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeMismatches(&out, approval.Approval{Status: approval.Succeeded, Result: res})
	for _, want := range []string{"Warning: the engine after the apply differs from what the plan predicted (2):",
		`  not_applied web: state is "exited (0)" on the engine, the plan wanted "running"`,
		"  unplanned api: the plan left container 1234 alone; it is gone after the apply", "devarch-controller plan"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, r := range []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage(`{"created":["x"]}`)} {
		out.Reset()
		writeMismatches(&out, approval.Approval{Status: approval.Succeeded, Result: r})
		if out.Len() != 0 {
			t.Errorf("result %s: printed %q, want nothing", r, out.String())
		}
	}
}
