package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// processWide are the package-level variables that hold state on purpose,
// by package directory and name, with the reason. Each one adapts a
// process-wide value of a library, so a second instance would be wrong.
var processWide = map[string]string{
	"deploy.composeLogs": "routes logrus's process-wide standard logger, through which compose logs, " +
		"and scrubs every line with the secrets of every compose session in the process",
}

// TestNoPackageLevelMutableState finds package-level variables that hold
// mutable state. State belongs to a value that is built and passed (a
// Planner, a Runtime, a Controller), so two of them never share it by
// accident and a test can make a private one. Allowed at package level:
//   - sentinel errors (errors.New, fmt.Errorf), exported or not;
//   - compiled regular expressions and //go:embed files;
//   - unexported constant-like tables (literals, or values computed once)
//     that no code of the package writes to;
//   - the `_` of compile-time interface checks;
//   - processWide.
//
// Exported tables are refused too (another package could change them):
// export a function that returns a copy.
func TestNoPackageLevelMutableState(t *testing.T) {
	root := moduleRoot(t)
	for _, p := range parsePackages(t, root) {
		rel, _ := filepath.Rel(root, p.dir)
		globals := map[string]*ast.ValueSpec{}
		embeds := map[string]bool{}
		for _, path := range p.sources() {
			f := p.files[path]
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					embed := hasEmbed(g.Doc) || hasEmbed(vs.Doc)
					for _, n := range vs.Names {
						if n.Name == "_" {
							continue
						}
						globals[n.Name] = vs
						embeds[n.Name] = embed
					}
				}
			}
		}
		written := writesTo(p, globals)
		for name, vs := range globals {
			key := filepath.ToSlash(rel) + "." + name
			if _, ok := processWide[key]; ok {
				continue
			}
			pos := p.fset.Position(vs.Pos())
			where := fmt.Sprintf("%s:%d", filepath.ToSlash(mustRel(root, pos.Filename)), pos.Line)
			if why := refuse(name, vs, embeds[name], written[name]); why != "" {
				t.Errorf("%s: package-level variable %s %s; keep state in a value that is built and passed, "+
					"or make a table a function or an unexported variable nothing writes to", where, name, why)
			}
		}
	}
	for key := range processWide {
		dir, name, _ := strings.Cut(key, ".")
		found := false
		for _, p := range parsePackages(t, root) {
			rel, _ := filepath.Rel(root, p.dir)
			if filepath.ToSlash(rel) != dir {
				continue
			}
			for _, path := range p.sources() {
				if p.files[path].Scope.Lookup(name) != nil {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("processWide names %s, which no longer exists: remove it from the list", key)
		}
	}
}

// refuse says why a package-level variable is refused ("" when it is not).
func refuse(name string, vs *ast.ValueSpec, embed, written bool) string {
	var init ast.Expr
	for i, n := range vs.Names {
		if n.Name == name && i < len(vs.Values) {
			init = vs.Values[i]
		}
	}
	switch {
	case embed:
		return ""
	case sentinelError(init):
		if written {
			return "is a sentinel error that code assigns to"
		}
		return ""
	case written:
		return "is written after its declaration"
	case init == nil:
		return "has no initial value (it is set later)"
	case ast.IsExported(name):
		return "is exported, so any package can change it"
	case holdsState(vs.Type, init):
		return "holds a mutable value (a pointer, channel, map made empty, or sync/atomic value)"
	}
	return ""
}

// sentinelError reports whether init is errors.New(…) or fmt.Errorf(…).
func sentinelError(init ast.Expr) bool {
	call, ok := init.(*ast.CallExpr)
	if !ok {
		return false
	}
	fn := selector(call.Fun)
	return fn == "errors.New" || fn == "fmt.Errorf"
}

// holdsState reports whether a variable is made to hold state: a pointer
// (other than a compiled regexp), new(…), make(…), or a sync or atomic
// type.
func holdsState(typ, init ast.Expr) bool {
	if typ != nil {
		if s := exprString(typ); strings.Contains(s, "sync.") || strings.Contains(s, "atomic.") ||
			strings.HasPrefix(s, "*") && s != "*regexp.Regexp" || strings.HasPrefix(s, "chan ") {
			return true
		}
	}
	switch e := init.(type) {
	case *ast.UnaryExpr:
		return e.Op == token.AND
	case *ast.CallExpr:
		fn := selector(e.Fun)
		if fn == "regexp.MustCompile" {
			return false
		}
		if id, ok := e.Fun.(*ast.Ident); ok && (id.Name == "new" || id.Name == "make") {
			return true
		}
		return strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "atomic.")
	case *ast.CompositeLit:
		s := exprString(e.Type)
		return strings.Contains(s, "sync.") || strings.Contains(s, "atomic.")
	}
	return false
}

// writesTo returns the package-level variables among globals that some
// code of the package (its tests included) assigns to, changes an element
// or field of, deletes from, clears, or takes the address of.
func writesTo(p *pkg, globals map[string]*ast.ValueSpec) map[string]bool {
	out := map[string]bool{}
	mark := func(e ast.Expr) {
		id := rootIdent(e)
		if id == nil {
			return
		}
		vs, ok := globals[id.Name]
		if !ok {
			return
		}
		// A resolved identifier declared elsewhere is a local of the same
		// name; an unresolved one is package-level (declared in another
		// file).
		if id.Obj != nil && id.Obj.Decl != vs {
			return
		}
		out[id.Name] = true
	}
	for _, f := range p.files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch s := n.(type) {
			case *ast.AssignStmt:
				if s.Tok != token.DEFINE {
					for _, l := range s.Lhs {
						mark(l)
					}
				}
			case *ast.IncDecStmt:
				mark(s.X)
			case *ast.RangeStmt:
				if s.Tok == token.ASSIGN {
					mark(s.Key)
					mark(s.Value)
				}
			case *ast.UnaryExpr:
				if s.Op == token.AND {
					mark(s.X)
				}
			case *ast.CallExpr:
				if id, ok := s.Fun.(*ast.Ident); ok && (id.Name == "delete" || id.Name == "clear") && len(s.Args) > 0 {
					mark(s.Args[0])
				}
			}
			return true
		})
	}
	return out
}

// rootIdent is the variable an expression such as x, x[k], x.f or *x
// starts from (nil for anything else).
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.IndexExpr:
			e = x.X
		case *ast.SelectorExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return nil
		}
	}
}

func selector(e ast.Expr) string {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	x, ok := s.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return x.Name + "." + s.Sel.Name
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case nil:
		return ""
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(x.X)
	case *ast.ArrayType:
		return "[]" + exprString(x.Elt)
	case *ast.MapType:
		return "map[" + exprString(x.Key) + "]" + exprString(x.Value)
	case *ast.ChanType:
		return "chan " + exprString(x.Value)
	case *ast.IndexExpr:
		return exprString(x.X) + "[" + exprString(x.Index) + "]"
	}
	return fmt.Sprintf("%T", e)
}

func hasEmbed(g *ast.CommentGroup) bool {
	if g == nil {
		return false
	}
	for _, c := range g.List {
		if strings.HasPrefix(c.Text, "//go:embed ") {
			return true
		}
	}
	return false
}

func mustRel(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return rel
}
