package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// TestPlannerReadsBuildContexts: every way the Planner hands out a Desired
// or a plan reads the stack's build contexts, so the token a user approves
// (from a plan), the one filing checks (WithBuilds on a Desired read
// elsewhere) and the one apply checks (DesiredByID) agree, and an edit of
// a source file changes them all.
func TestPlannerReadsBuildContexts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY a /a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Build: &spec.Build{Context: dir}}}
	s := spec.Stack{ID: 8, Name: "app", Enabled: true, Instances: []spec.Instance{{ID: 81, Name: "web", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}}}
	w := &world{stacks: map[string]spec.Stack{"app": s},
		snap: deploy.Snapshot{Containers: map[int64][]spec.Container{}, Networks: map[string]string{}, Images: map[string]string{}}}
	pl := New(w, w, Options{})

	byName, err := pl.Desired(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := pl.DesiredByID(t.Context(), 8)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := w.Installation(t.Context())
	filed := pl.WithBuilds(plan.Desired{Stack: s, Paths: in})
	p, err := pl.Plan(t.Context(), plan.Desired{Stack: s, Paths: in})
	if err != nil {
		t.Fatal(err)
	}
	if bc := byName.Paths.Builds[81]; bc.Digest == "" || bc.Err != "" {
		t.Fatalf("build context not read: %+v", bc)
	}
	tokens := []string{plan.Token(byName), plan.Token(byID), plan.Token(filed), p.Token}
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatalf("tokens differ: %q", tokens)
		}
	}
	if p.Summary.Add != 1 || p.Changes[0].Fields[len(p.Changes[0].Fields)-1].Path != "build" {
		t.Fatalf("plan: %+v", p.Changes)
	}

	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := pl.Desired(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Token(after) == tokens[0] {
		t.Error("editing a file of the build context does not change the token")
	}

	if err := os.Remove(filepath.Join(dir, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	p, err = pl.Plan(t.Context(), plan.Desired{Stack: s, Paths: in})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Reason, `has no Dockerfile "Dockerfile"`) {
		t.Fatalf("a context without its Dockerfile: %+v", p.Changes)
	}
}
