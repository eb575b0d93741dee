package state

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// TestResolveCache: a cached resolution equals a fresh one, is computed
// once per template and variables, and callers never share its spec.
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
	first, err := c.resolve(tmpl, vars)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := catalog.Resolve(tmpl, vars)
	same := func(a, b spec.ServiceSpec) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	if !same(first.Spec, want.Spec) {
		t.Fatalf("cached resolution differs from catalog.Resolve:\n%+v\n%+v", first.Spec, want.Spec)
	}
	first.Spec.User = "changed by a caller"
	second, err := c.resolve(tmpl, vars)
	if err != nil || second.Spec.User == "changed by a caller" || !same(second.Spec, want.Spec) {
		t.Fatalf("second resolution %+v, %v: want the original", second.Spec, err)
	}
	if len(c.m) != 1 {
		t.Errorf("%d entries, want 1", len(c.m))
	}
	if _, err := c.resolve(tmpl, append(vars[:3:3], spec.Variable{Name: "F", Value: "y"})); err != nil || len(c.m) != 2 {
		t.Errorf("other variables: %v, %d entries, want 2", err, len(c.m))
	}
}
