package stackfile

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// Exported is a stack written as a version 1 stack file (see Export).
type Exported struct {
	// Data is the stack file. It holds no secret value: every secret is
	// a ${SECRET:NAME} reference (or a secret declared with
	// environment: NAME) to one of Secrets.
	Data []byte
	// Secrets are the names of the secrets the file references, sorted;
	// importing the file needs a value for each (--secrets-file or the
	// environment).
	Secrets []string
	// Notes say where the file differs from the stored stack in
	// provenance only (a value read from an env file at import is now an
	// environment value); one sentence each, never a value.
	Notes []string
	// values are the secrets' values, for SecretsFile and Lookup only.
	values map[string]string
}

// SecretsFile returns a secrets file (see ParseSecrets) that gives every
// secret the exported file references its value: what stack import
// --secrets-file reads. It holds the secret values: write it only where
// the user asked for it, with mode 0600.
func (e *Exported) SecretsFile() []byte {
	var b bytes.Buffer
	b.WriteString("# Secrets of an exported stack file; keep this file private.\n")
	for _, name := range e.Secrets {
		fmt.Fprintf(&b, "%s=%s\n", name, quoteSecret(e.values[name]))
	}
	return b.Bytes()
}

// Lookup returns the secrets of the exported file as a SecretLookup.
func (e *Exported) Lookup() SecretLookup {
	return func(name string) (string, bool) {
		v, ok := e.values[name]
		return v, ok
	}
}

// quoteSecret writes a value in the double-quoted form ParseSecrets reads
// back exactly.
func quoteSecret(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "$", `\$`)
	return `"` + r.Replace(v) + `"`
}

// ExportError lists everything of a stack that a stack file cannot
// express; nothing is written when there is any.
type ExportError struct {
	Stack    string
	Problems []spec.Problem
}

func (e *ExportError) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return fmt.Sprintf("stack %q cannot be written as a stack file:\n%s", e.Stack, strings.Join(lines, "\n"))
}

// Export writes a stored stack (as state.Store.Stack returns it) as a
// version 1 stack file that imports back to the same desired state:
// the stack, each instance's template, enabled flag and overrides, the
// stack's variables, networks, volumes, secrets, configs and wires.
//
// Secrets never appear: a secret env value or variable is written as a
// ${SECRET:NAME} reference, a secret file as a top-level secret declared
// with environment: NAME; Exported.Secrets names them. Values read from
// env files at import are written as environment values, and file-backed
// configs as content (Exported.Notes says so). What the format cannot
// express (an instance without template, a secret in a compose option)
// fails the export with an *ExportError naming every such field.
func Export(s spec.Stack) (*Exported, error) {
	w := exporter{stack: s.Name, names: map[string]string{}, taken: map[string]bool{}}
	doc := w.document(s)
	w.embeddedSecrets(doc, s)
	if len(w.problems) > 0 {
		return nil, &ExportError{Stack: s.Name, Problems: w.problems}
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write stack file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write stack file: %w", err)
	}
	e := &Exported{Notes: w.notes, values: map[string]string{}}
	for name, v := range w.names {
		e.values[name] = v
		e.Secrets = append(e.Secrets, name)
	}
	slices.Sort(e.Secrets)
	e.Data = append(header(s, e.Secrets), body.Bytes()...)
	return e, nil
}

// embeddedSecrets fails the export when a value it writes literally (a
// command, a label, a config file, an option...) holds the value of a
// secret the export hides (a secret variable, env value or file of the
// stack's instances), as plans and views hide it: the stack file can
// reference secrets in environment values and variables only.
func (w *exporter) embeddedSecrets(doc exportDoc, s spec.Stack) {
	var secrets []string
	add := func(v string) {
		if len(v) >= spec.MinScrubLength && !slices.Contains(secrets, v) {
			secrets = append(secrets, v)
		}
	}
	for _, v := range s.Variables {
		if v.IsSecret() {
			add(v.Value)
		}
	}
	for _, inst := range s.Instances {
		for _, v := range inst.Overrides.Env {
			if v.IsSecret() {
				add(v.Value)
			}
		}
		for _, f := range inst.Overrides.Secrets {
			add(f.Content)
			add(strings.TrimSpace(f.Content))
		}
	}
	if len(secrets) == 0 {
		return
	}
	var n yaml.Node
	if err := n.Encode(doc); err != nil {
		return
	}
	walkScalars(&n, "", func(field, value string) {
		for _, secret := range secrets {
			if strings.Contains(value, secret) {
				w.fail(field, "the value holds a secret's value, and a stack file references secrets in environment values and variables only; the export never writes a secret value: reference the secret in an environment value instead, or change the value")
				return
			}
		}
	})
}

// walkScalars calls fn with every scalar value of n and its field path
// ("instances.api.command[2]").
func walkScalars(n *yaml.Node, field string, fn func(field, value string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkScalars(c, field, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkScalars(c, fmt.Sprintf("%s[%d]", field, i), fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if field != "" {
				key = field + "." + key
			}
			walkScalars(n.Content[i+1], key, fn)
		}
	case yaml.ScalarNode:
		if !strings.HasPrefix(n.Value, "${SECRET:") {
			fn(field, n.Value)
		}
	}
}

// header is the comment the file starts with.
func header(s spec.Stack, secrets []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Stack %s, exported by devarch-controller (stack file version %d).\n", s.Name, SupportedVersion)
	if len(secrets) > 0 {
		fmt.Fprintf(&b, "# Import it with these secrets in the secrets file or the environment: %s.\n", strings.Join(secrets, ", "))
	}
	return b.Bytes()
}

// exporter builds the document, allocating secret names and collecting
// what cannot be written.
type exporter struct {
	stack string
	// names maps each secret name the file references to its value;
	// taken holds the variable names too (environment: NAME finds a
	// variable first), so that a name never means two values.
	names    map[string]string
	taken    map[string]bool
	vars     map[string]string
	problems []spec.Problem
	notes    []string
}

func (w *exporter) fail(field, format string, args ...any) {
	w.problems = append(w.problems, spec.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// secretName returns the name a secret value is referenced by: the first
// candidate that is free or already names the same value, else the last
// candidate with a number appended.
func (w *exporter) secretName(value string, candidates ...string) string {
	var last string
	for _, c := range candidates {
		c = envName(c)
		if c == "" {
			continue
		}
		last = c
		if w.free(c, value) {
			w.claim(c, value)
			return c
		}
	}
	last = cmp.Or(last, "SECRET")
	for i := 2; ; i++ {
		c := last + "_" + strconv.Itoa(i)
		if w.free(c, value) {
			w.claim(c, value)
			return c
		}
	}
}

func (w *exporter) free(name, value string) bool {
	if v, ok := w.names[name]; ok {
		return v == value
	}
	if v, ok := w.vars[name]; ok {
		return v == value
	}
	return !w.taken[name]
}

func (w *exporter) claim(name, value string) {
	w.names[name] = value
	w.taken[name] = true
}

// envName turns text into a secret name: upper case, every character
// other than a letter, digit or '_' replaced by '_', not starting with a
// digit.
func envName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "_" + out
	}
	return out
}

// secretRefOf is the reference to a secret name.
func secretRefOf(name string) string { return "${SECRET:" + name + "}" }
