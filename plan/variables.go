package plan

import (
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// annotateVariables names, on each field whose value comes from the
// template, the stack variables that value was resolved from. A use names
// a plan path or a prefix of it ("ulimits.nofile" for
// "ulimits.nofile.soft"), or lies under it ("healthcheck.test" for
// "healthcheck").
func annotateVariables(fields []FieldChange, uses []spec.VariableUse) {
	if len(uses) == 0 {
		return
	}
	for i := range fields {
		f := &fields[i]
		if f.Source != spec.SourceTemplate {
			continue
		}
		var names []string
		for _, u := range uses {
			if underPath(f.Path, u.Field) || underPath(u.Field, f.Path) {
				names = append(names, u.Variables...)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			f.Variables = slices.Compact(names)
		}
	}
}

// underPath reports whether path is prefix or lies under it.
func underPath(path, prefix string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || rest[0] == '.')
}
