package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// MinSecretLength is the length below which a secret value is called weak.
const MinSecretLength = 8

// WeakSecret is a secret env value of an instance that is easy to guess or
// that the controller cannot keep out of its messages well. Imports report
// it as a warning; it never holds the value.
type WeakSecret struct {
	Instance string
	Key      string
	// Reasons say why, each a clause such as "it is empty".
	Reasons []string
}

// String is the warning shown to the user: what is weak, why, and what to
// do.
func (w WeakSecret) String() string {
	return fmt.Sprintf("instance %q: secret %s is weak: %s. Set a long random value of your own, for example %s: ${SECRET:%s} with the value in the secrets file (--secrets-file).",
		w.Instance, w.Key, strings.Join(w.Reasons, "; "), w.Key, secretRefName(w.Instance, w.Key))
}

// secretRefName suggests a ${SECRET:...} name for an instance's variable.
func secretRefName(instance, key string) string {
	return strings.ToUpper(strings.ReplaceAll(instance, "-", "_")) + "_" + key
}

// WeakSecrets returns the stack's weak secrets, sorted by instance name and
// key:
// a secret env value that is empty, shorter than MinSecretLength, equal to
// the default value of a secret variable of a template the stack uses
// (anyone who reads the catalog knows it), or equal to or part of a name
// the controller generates for the stack (Identifiers: such names are
// shown as they are, and where a secret equal to a name stands alone it is
// hidden, name or not).
func (s Stack) WeakSecrets() []WeakSecret {
	defaults := templateSecretDefaults(s)
	idents := s.Identifiers()
	var out []WeakSecret
	for _, inst := range s.Instances {
		for _, e := range inst.Effective.Env {
			if !e.IsSecret() {
				continue
			}
			if reasons := weakReasons(e.Value, defaults, idents); len(reasons) > 0 {
				out = append(out, WeakSecret{Instance: inst.Name, Key: e.Key, Reasons: reasons})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b WeakSecret) int {
		return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// templateSecretDefaults maps the default value of every secret variable
// of the stack's templates to where it comes from.
func templateSecretDefaults(s Stack) map[string]string {
	out := map[string]string{}
	for _, inst := range s.Instances {
		if inst.Template == nil {
			continue
		}
		for _, e := range inst.Template.Spec.Env {
			if _, seen := out[e.Value]; e.IsSecret() && e.Value != "" && !seen {
				out[e.Value] = fmt.Sprintf("%s in template %q", e.Key, inst.Template.Name)
			}
		}
	}
	return out
}

func weakReasons(v string, defaults map[string]string, idents []string) []string {
	if v == "" {
		return []string{"it is empty"}
	}
	var reasons []string
	if from, ok := defaults[v]; ok {
		reasons = append(reasons, "it is the default value of "+from+", which anyone who can read the catalog knows")
	}
	switch n := len([]rune(v)); {
	case len(v) < MinScrubLength:
		reasons = append(reasons, fmt.Sprintf("it is only %d characters long, so it is easy to guess, and too short to be hidden where an engine error quotes it", n))
	case n < MinSecretLength:
		reasons = append(reasons, fmt.Sprintf("it is only %d characters long, so it is easy to guess, and text that happens to contain it is shown with %s in its place", n, RedactedValue))
	}
	equal, part := false, false
	for _, id := range idents {
		equal = equal || id == v
		part = part || (len(id) > len(v) && strings.Contains(id, v))
	}
	switch {
	case equal:
		reasons = append(reasons, "it is equal to a name the controller uses for this stack (stack, instance, template or network name), so wherever that name stands alone in a message it is shown as "+RedactedValue)
	case part:
		reasons = append(reasons, "it is part of names the controller generates for this stack (container, network or volume names), which messages show unredacted")
	}
	return reasons
}
