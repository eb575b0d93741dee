package security_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sourcePackage is one directory of parsed Go files (tests included).
type sourcePackage struct {
	dir   string // relative to the repository root, with '/'
	fset  *token.FileSet
	files map[string]*ast.File // by path relative to the root
}

// repoRoot is the module root, seen from this package's directory.
const repoRoot = ".."

// parseRepository parses every Go file of the module, grouped by
// directory. testdata, hidden directories and node_modules are skipped.
func parseRepository(t *testing.T) []sourcePackage {
	t.Helper()
	byDir := map[string]*sourcePackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != repoRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		sp := byDir[dir]
		if sp == nil {
			sp = &sourcePackage{dir: dir, fset: fset, files: map[string]*ast.File{}}
			byDir[dir] = sp
		}
		sp.files[rel] = f
		return nil
	})
	if err != nil {
		t.Fatalf("parse the repository: %v", err)
	}
	if len(byDir) < 10 {
		t.Fatalf("found only %d Go directories under %s; is the test running inside the module?", len(byDir), repoRoot)
	}
	out := make([]sourcePackage, 0, len(byDir))
	for _, sp := range byDir {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

// constants returns the values of the string constants declared at
// package level in the directory's non-test files, by name (the
// expressions are evaluated with constValue, so constants built from other
// constants resolve too).
func (sp sourcePackage) constants() map[string]string {
	decls := map[string]ast.Expr{}
	for _, f := range sp.nonTestFiles() {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						decls[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	out := map[string]string{}
	for range 8 { // constants may refer to each other: resolve in rounds
		for name, e := range decls {
			if v, ok := constValue(e, out); ok {
				out[name] = v
			}
		}
	}
	return out
}

// constValue evaluates a constant string expression: string literals,
// known constants, parentheses and '+'. ok is false for anything else.
func constValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s := e.Value
		v, err := strconv.Unquote(s)
		return v, err == nil
	case *ast.Ident:
		v, ok := consts[e.Name]
		return v, ok
	case *ast.ParenExpr:
		return constValue(e.X, consts)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok1 := constValue(e.X, consts)
		y, ok2 := constValue(e.Y, consts)
		return x + y, ok1 && ok2
	}
	return "", false
}

// position is "file:line" of a node.
func (sp sourcePackage) position(n ast.Node) string {
	p := sp.fset.Position(n.Pos())
	rel, err := filepath.Rel(repoRoot, p.Filename)
	if err != nil {
		rel = p.Filename
	}
	return filepath.ToSlash(rel) + ":" + strconv.Itoa(p.Line)
}

// isTestFile reports whether a path is a _test.go file.
func isTestFile(path string) bool { return strings.HasSuffix(path, "_test.go") }

// nonTestFiles yields the directory's files other than tests, by path.
func (sp sourcePackage) nonTestFiles() iter.Seq2[string, *ast.File] {
	return func(yield func(string, *ast.File) bool) {
		for path, f := range sp.files {
			if !isTestFile(path) && !yield(path, f) {
				return
			}
		}
	}
}

// inspect calls fn for every node of type N below root.
func inspect[N ast.Node](root ast.Node, fn func(N)) {
	ast.Inspect(root, func(n ast.Node) bool {
		if x, ok := n.(N); ok {
			fn(x)
		}
		return true
	})
}

// readRepoFile reads a file relative to the repository root.
func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
