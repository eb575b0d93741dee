package state

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// TestResolveCache: a cached resolution equals a fresh one, is computed
// once per template and variables and then shared, and keeps the
// template's identity.
func TestResolveCache(t *testing.T) {
	res, err := catalog.LoadFile(filepath.Join("..", "catalog", "testdata", "interp", "web", "vars", "compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := res.Template
	if tmpl.Compose == "" {
		t.Fatal("the fixture template references no variable")
	}
	vars := []spec.Variable{{Name: "UID", Value: "1000"}, {Name: "RO", Value: "true"}, {Name: "E", Value: "dev"}, {Name: "F", Value: "x"}}
	c := newResolveCache()
	tmpl.ID, tmpl.Name = 42, "web"
	first, err := c.resolve(&tmpl, vars)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := catalog.Resolve(tmpl, vars)
	same := func(a, b spec.ServiceSpec) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	if !same(first.template.Spec, want.Spec) || !same(first.res.Spec, want.Spec) {
		t.Fatalf("cached resolution differs from catalog.Resolve:\n%+v\n%+v", first.template.Spec, want.Spec)
	}
	if first.template.ID != 42 || first.template.Name != "web" || first.template.Compose != tmpl.Compose {
		t.Errorf("resolved template %d %q: want the template's id, name and compose file", first.template.ID, first.template.Name)
	}
	if same(tmpl.Spec, want.Spec) {
		t.Fatal("the fixture's spec is the same before and after resolving: the test shows nothing")
	}
	if _, err := c.resolve(&tmpl, vars); err != nil || !same(tmpl.Spec, res.Template.Spec) {
		t.Fatalf("resolving changed the template it was given (%v)", err)
	}
	second, err := c.resolve(&tmpl, vars)
	if err != nil || second != first {
		t.Fatalf("second resolution %p, %v: want the first one (%p), shared", second, err, first)
	}
	if len(c.m) != 1 {
		t.Errorf("%d entries, want 1", len(c.m))
	}
	if _, err := c.resolve(&tmpl, append(vars[:3:3], spec.Variable{Name: "F", Value: "y"})); err != nil || len(c.m) != 2 {
		t.Errorf("other variables: %v, %d entries, want 2", err, len(c.m))
	}
}
