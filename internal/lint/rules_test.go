package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGlobalRulesCatchState runs the package-level variable rules on a
// package written to show each case, so the module-wide check cannot pass
// by missing them.
func TestGlobalRulesCatchState(t *testing.T) {
	src := map[string]string{
		"a.go": `package x

import (
	"errors"
	"regexp"
	"sync"
)

var ErrGone = errors.New("gone")          // sentinel: allowed
var word = regexp.MustCompile("[a-z]+")    // compiled regexp: allowed
var table = map[string]int{"a": 1}         // never written: allowed
var Exported = []string{"a"}               // exported table: refused
var cache = &struct{ m map[string]int }{}  // pointer: refused
var once sync.Once                         // no initial value: refused
var counter = 0                            // written below: refused
var names = []string{"a"}                  // element written in b.go: refused
var shadowed = 1                           // only a local of that name is written: allowed
var made = make(map[string]int)            // made to be filled: refused
var _ = errors.New("blank")                // blank: allowed

func bump() { counter++ }
func local() { shadowed := 2; shadowed = 3; _ = shadowed }
`,
		"b.go": `package x

func rename() { names[0] = "b" }
`,
	}
	fset := token.NewFileSet()
	p := &pkg{dir: "x", fset: fset, files: map[string]*ast.File{}}
	for name, s := range src {
		f, err := parser.ParseFile(fset, name, s, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		p.files[name] = f
	}
	globals := map[string]*ast.ValueSpec{}
	for _, f := range p.files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for _, n := range vs.Names {
						if n.Name != "_" {
							globals[n.Name] = vs
						}
					}
				}
			}
		}
	}
	written := writesTo(p, globals)
	var refused []string
	for name, vs := range globals {
		if refuse(name, vs, false, written[name]) != "" {
			refused = append(refused, name)
		}
	}
	slices.Sort(refused)
	want := []string{"Exported", "cache", "counter", "made", "names", "once"}
	if !slices.Equal(refused, want) {
		t.Errorf("refused %v, want %v", refused, want)
	}
}

// TestOnlyThePlannerComputes: a plan is computed by package planner only
// (plan's own tests aside), so every caller — the loop, the API, the CLI —
// gets a plan that was redacted once, in one place, and observed through
// the one Observer.
func TestOnlyThePlannerComputes(t *testing.T) {
	root := moduleRoot(t)
	for _, p := range parsePackages(t, root) {
		rel, _ := filepath.Rel(root, p.dir)
		rel = filepath.ToSlash(rel)
		if rel == "plan" || rel == "planner" || rel == "internal/lint" {
			continue
		}
		for path, f := range p.files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if fn := selector(call.Fun); fn == "plan.Compute" || fn == "plan.ComputeCached" {
					pos := p.fset.Position(call.Pos())
					if strings.HasSuffix(path, "_test.go") && allowedTestCompute(rel) {
						return true
					}
					t.Errorf("%s:%d: %s outside package planner; plan through a *planner.Planner", mustRel(root, pos.Filename), pos.Line, fn)
				}
				return true
			})
		}
	}
	if _, err := os.Stat(filepath.Join(root, "planner", "planner.go")); err != nil {
		t.Fatalf("package planner is gone: %v", err)
	}
}

// allowedTestCompute lists the test packages that compute plans from
// fixed observations to test something else (a fake API planner, golden
// renderings).
func allowedTestCompute(dir string) bool {
	return slices.Contains([]string{"api", "deploy", "reconcile", "security"}, dir)
}
