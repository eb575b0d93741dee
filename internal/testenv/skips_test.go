package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestEverySkipHonoursRequire checks that no test of the module skips on
// its own: every skip goes through Skip or Skipf (which fail under
// DEVARCH_TEST_REQUIRE=1), unless a "skip-ok:" comment on the line of the
// call or the line above says why the suite itself chose to skip. Those
// exceptions are listed in docs/development.md.
func TestEverySkipHonoursRequire(t *testing.T) {
	root := RepoRoot(t)
	var bare []string
	allowed := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || filepath.Dir(path) == filepath.Join(root, "internal", "testenv") {
			return nil
		}
		found, ok, err := skipCalls(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, line := range found {
			bare = append(bare, rel+":"+line)
		}
		allowed += ok
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bare {
		t.Errorf("%s: skips without testenv.Skip, so it would skip even under %s=1; use testenv.Skip, or add a \"skip-ok: why\" comment and list it in docs/development.md", b, EnvRequire)
	}
	if allowed == 0 {
		t.Error("found no skip-ok exception at all: the scan is broken (the outage tests' gate is one)")
	}
}

// skipCalls parses a Go file and returns the positions ("line:col") of
// Skip, Skipf and SkipNow calls not made through testenv and not marked
// skip-ok, and the number of marked ones.
func skipCalls(path string) (bare []string, allowed int, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	marked := map[int]bool{} // lines holding a skip-ok comment
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.Contains(c.Text, "skip-ok:") {
				marked[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		switch sel.Sel.Name {
		case "Skip", "Skipf", "SkipNow":
		default:
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "testenv" {
			return true
		}
		pos := fset.Position(call.Pos())
		if marked[pos.Line] || marked[pos.Line-1] {
			allowed++
		} else {
			bare = append(bare, pos.String()[len(path)+1:])
		}
		return true
	})
	return bare, allowed, nil
}
