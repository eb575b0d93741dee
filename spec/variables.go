package spec

import (
	"cmp"
	"slices"
)

// Variable is a stack variable: the value of compose's ${NAME} references
// in the templates of the stack's instances (see the catalog package's
// Resolve). Variables come from the stack file's variables: section.
type Variable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Secret marks a value that came from a secret (${SECRET:NAME}); a
	// variable whose name looks like a credential is secret too (IsSecret).
	Secret bool `json:"secret,omitempty"`
}

// IsSecret reports whether the variable's value must be hidden: marked
// secret, or named like a credential (IsSecretName).
func (v Variable) IsSecret() bool { return v.Secret || IsSecretName(v.Name) }

// VariableUse says that the template's value of an effective field (a plan
// path or its prefix: "user", "env.DB_URL", "ulimits.nofile") came from
// compose variable references.
type VariableUse struct {
	Field     string   `json:"field"`
	Variables []string `json:"variables"`
}

// RedactedVariables returns the stack's variables with the values of the
// secret ones replaced by RedactedValue, sorted by name. Use it for
// everything that leaves the process.
func (s Stack) RedactedVariables() []Variable {
	out := make([]Variable, 0, len(s.Variables))
	for _, v := range s.Variables {
		if v.IsSecret() {
			v.Value = RedactedValue
			v.Secret = true
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Variable) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// VariableMap returns the stack's variables as a map of real values, for
// interpolation only: never log or render it.
func (s Stack) VariableMap() map[string]string {
	m := make(map[string]string, len(s.Variables))
	for _, v := range s.Variables {
		m[v.Name] = v.Value
	}
	return m
}
