package stackfile

import (
	"maps"
	"slices"

	"github.com/devarch/devarch-controller/spec"
)

// variables reads the variables: section: the values of the compose
// variables (${NAME}, ${NAME:-default}...) the instances' templates
// reference. A value may hold ${SECRET:NAME} references, resolved like
// environment values; such a variable is secret, as is one named like a
// credential (spec.IsSecretName). The result is sorted by name.
func (b *builder) variables(in map[string]*envValue) []spec.Variable {
	if len(in) == 0 {
		return nil
	}
	out := make([]spec.Variable, 0, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		field := "variables." + name
		if !secretName.MatchString(name) {
			b.fail(field, "variable name %q is invalid; compose variable names use letters, digits and '_' and do not start with a digit, as in DB_USER", name)
			continue
		}
		v := in[name]
		if v == nil {
			b.fail(field, "variable %s has no value; give one (an empty string is written \"\"), or remove it so that the template's default applies", name)
			continue
		}
		value, fromSecret, ok := b.resolveSecrets(field, string(*v))
		if !ok {
			continue
		}
		out = append(out, spec.Variable{Name: name, Value: value, Secret: fromSecret})
	}
	return out
}
