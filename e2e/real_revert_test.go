package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
)

// testRealRevert deploys revision 1 of a stack, then revision 2, and
// reverts to 1: the stack's plan against the running containers then shows
// exactly the reverted field, the revert's stored diff names the same, and
// the History tab lists the three revisions.
func testRealRevert(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("revert-")
	instances := map[string]instanceFile{"web": demoWeb("Version one"), "cache": demoCache()}
	b.importStack(t, newStackFile(name, instances))
	b.deploy(t, name)
	instances["web"] = demoWeb("Version two")
	b.importStack(t, newStackFile(name, instances))
	b.deploy(t, name)

	out := b.cli(t, "stack", "revert", name, "--to", "1")
	if !strings.Contains(out, "is now at revision 3 (revert to 1)") {
		t.Fatalf("revert:\n%s", out)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(b.cli(t, "plan", name, "-o", "json")), &p); err != nil {
		t.Fatal(err)
	}
	want := "web env.SLEEPER_MESSAGE Version two -> Version one (user)"
	if got := fieldLines(&p); len(got) != 1 || got[0] != want {
		t.Fatalf("plan after the revert: %q, want exactly %q", got, want)
	}
	var history []struct {
		Kind string    `json:"kind"`
		Diff plan.Plan `json:"diff"`
	}
	if err := json.Unmarshal([]byte(b.cli(t, "stack", "history", name, "-o", "json")), &history); err != nil {
		t.Fatal(err)
	}
	if len(history) != 3 || history[0].Kind != "revert" {
		t.Fatalf("history: %+v", history)
	}
	if got := fieldLines(&history[0].Diff); len(got) != 1 || got[0] != want {
		t.Errorf("the revert's diff %q, want exactly %q (as the plan)", got, want)
	}

	d := openReal(t, browser, b)
	d.openStack(name, "history")
	d.waitFor("the revisions", `document.querySelectorAll('#panel-history .revision').length === 3`, 10*time.Second)
	kinds := eval[[]string](d, `[...document.querySelectorAll('#panel-history .revision')].map((r) => r.dataset.kind)`)
	if strings.Join(kinds, ",") != "revert,import,import" {
		t.Errorf("History tab revisions %v, want revert, import, import", kinds)
	}
	d.assertNoSecret()
}

// fieldLines lists a plan's field changes as "instance path old -> new (source)".
func fieldLines(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		for _, f := range c.Fields {
			out = append(out, c.Instance+" "+f.Path+" "+deref(f.Old)+" -> "+deref(f.New)+" ("+string(f.Source)+")")
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}
