package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"

	"github.com/devarch/devarch-controller/spec"
)

// unescapeDollars is the substitution compose-go applies to every string
// value: "$$" becomes "$" and every other "$" is kept as written, so
// ${VAR} and $VAR references reach the container literally.
func unescapeDollars(s string, _ template.Mapping) (string, error) {
	if !strings.Contains(s, "$$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			i++
		}
	}
	return b.String(), nil
}

// variableWarnings reports every scalar of the file that references
// variables: each stack that uses the template resolves them from its own
// variables (Resolve). removed are the typed keys the catalog copy leaves
// unset.
func variableWarnings(file string, refs []reference, removed []string) []Warning {
	var out []Warning
	for _, r := range refs {
		names := r.names()
		for i, n := range names {
			names[i] = "${" + n + "}"
		}
		msg := fmt.Sprintf("%s %s resolved from the variables of each stack that uses the template (the variables: section of the stack file), as compose resolves it from the environment; write $$ for a literal $",
			strings.Join(names, ", "), map[bool]string{true: "is", false: "are"}[len(names) == 1])
		if slices.Contains(removed, r.path) {
			msg += "; the catalog's copy of the template leaves this key unset, the value comes from the stack"
		}
		out = append(out, Warning{File: file, Key: r.path, Message: msg})
	}
	return out
}

// withoutReferenced drops the problems at keys that reference variables
// in the catalog copy of a template: there they hold the references, and
// each stack's resolution checks the values it substitutes.
func (m *mapper) withoutReferenced(problems []spec.Problem) []spec.Problem {
	if m.resolving || len(m.references) == 0 {
		return problems
	}
	return slices.DeleteFunc(problems, func(p spec.Problem) bool {
		return slices.ContainsFunc(m.references, func(r reference) bool {
			return nestedPath(p.Field, r.path) || nestedPath(r.path, p.Field)
		})
	})
}

// nestedPath reports whether path is prefix or lies under it.
func nestedPath(path, prefix string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}
