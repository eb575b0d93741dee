package stackfile

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

var (
	// networkName follows Docker's rule for network names.
	networkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	// engineName is the syntax of an engine name (config engines).
	engineName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// templateName follows compose's rule for service names, which catalog
	// template names are.
	templateName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// builder turns a decoded document into a spec.Stack, collecting every
// problem and warning on the way.
type builder struct {
	secrets SecretLookup
	// secretsHint ends the error of an unresolved secret (see
	// MissingSecretHint); "" is the CLI's.
	secretsHint string
	// dir is the stack file's folder: env files, secrets, configs and
	// relative build contexts are read relative to it; "" when the file
	// was not read from a file (relative paths then resolve against the
	// current directory, and relative build contexts are refused). top
	// holds the top-level secrets, configs and volumes (see files.go);
	// vars are the variables: section, where environment: sources are
	// looked up.
	dir  string
	top  map[string]any
	vars map[string]*envValue

	problems []spec.Problem
	warnings []string
}

func (b *builder) fail(field, format string, args ...any) {
	b.problems = append(b.problems, spec.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (b *builder) warn(field, format string, args ...any) {
	b.warnings = append(b.warnings, field+": "+fmt.Sprintf(format, args...))
}

func (b *builder) stack(doc *document) spec.Stack {
	s := spec.Stack{
		Name:        doc.Stack.Name,
		Description: doc.Stack.Description,
		NetworkName: doc.Stack.NetworkName,
		Engine:      doc.Stack.Engine,
		Enabled:     doc.Stack.Enabled == nil || *doc.Stack.Enabled,
	}
	if s.Name == "" {
		b.fail("stack.name", "the stack has no name; set stack.name to a DNS-safe name such as \"shop\"")
	} else if err := spec.ValidateName(s.Name); err != nil {
		b.fail("stack.name", "%v", err)
	}
	if s.NetworkName != "" && (!networkName.MatchString(s.NetworkName) || len(s.NetworkName) > 255) {
		b.fail("stack.network_name", "network name %q is invalid; use letters, digits, '_', '.' and '-', starting with a letter or digit", s.NetworkName)
	}
	if s.Engine != "" && !engineName.MatchString(s.Engine) {
		b.fail("stack.engine", "engine name %q is invalid; use the name of an engine in the controller's engines configuration (lower-case letters, digits, - and _)", s.Engine)
	}
	b.top, b.vars = topLevel(doc), doc.Variables
	names := slices.Sorted(maps.Keys(doc.Instances))
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	s.Instances = make([]spec.Instance, 0, len(names))
	for _, n := range names {
		s.Instances = append(s.Instances, b.instance(n, doc.Instances[n], known, s.Network()))
	}
	s.Wires = nilIfEmpty(b.wires(doc.Wires, known))
	s.Variables = b.variables(doc.Variables)
	b.networks(doc, &s)
	return s
}

func (b *builder) wires(in []wireDoc, known map[string]bool) []spec.Wire {
	out := make([]spec.Wire, 0, len(in))
	for i, w := range in {
		field := fmt.Sprintf("wires[%d]", i)
		ok := true
		for _, end := range []struct{ role, name string }{{"consumer_instance", w.ConsumerInstance}, {"provider_instance", w.ProviderInstance}} {
			switch {
			case end.name == "":
				b.fail(field, "%s is missing; name an instance of this stack", end.role)
				ok = false
			case !known[end.name]:
				b.fail(field, "%s %q is not an instance of this stack", end.role, end.name)
				ok = false
			}
		}
		if ok && w.ConsumerInstance == w.ProviderInstance {
			b.fail(field, "instance %q is wired to itself; a wire connects two instances", w.ConsumerInstance)
			ok = false
		}
		if !ok {
			continue
		}
		out = append(out, spec.Wire(w))
		contract := cmp.Or(w.ImportContract, w.ExportContract, "unnamed")
		b.warn(field, "wire %s -> %s (contract %s) is stored but not applied yet: the controller does not inject wire settings, so set the provider's address in the consumer's environment",
			w.ConsumerInstance, w.ProviderInstance, contract)
	}
	return out
}

// literalSecretRef warns when a ${SECRET:...} reference sits where it is not
// resolved: only environment values are.
func (b *builder) literalSecretRef(field, s string) {
	if strings.Contains(s, "${SECRET:") {
		b.warn(field, "${SECRET:...} references are resolved in environment values only; this one is kept literally")
	}
}
