package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// Resolution is a template resolved with a stack's variables.
type Resolution struct {
	// Spec is the template's service with every variable reference
	// substituted, exactly as compose substitutes it.
	Spec spec.ServiceSpec
	// Uses name the fields whose value came from variable references.
	Uses []spec.VariableUse
	// Warnings name each reference to a variable that is neither given
	// nor defaulted: compose, and so the controller, substitutes "".
	Warnings []Warning
}

// Resolve substitutes the stack's variables into a template that
// references compose variables (t.Compose is set), with compose-go's own
// interpolation: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default},
// ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, typed keys included,
// and "$$" for a literal "$". A template without references resolves to
// its stored spec unchanged. Config files, env file variables, secrets and
// configs are the stored ones (read at catalog import). Nothing but vars is looked up: neither the process
// environment nor a .env file.
//
// A required variable that is missing, or a value that compose refuses
// once substituted (read_only: "" is not a boolean), is an error naming
// the template file, the key and the variable. Error texts never hold the
// value of a secret variable.
func Resolve(t spec.Template, vars []spec.Variable) (Resolution, error) {
	if t.Compose == "" {
		return Resolution{Spec: t.Spec}, nil
	}
	values := make(map[string]string, len(vars))
	var secrets []string
	for _, v := range vars {
		values[v.Name] = v.Value
		if v.IsSecret() {
			secrets = append(secrets, v.Value)
		}
	}
	sc := spec.NewScrubber(secrets, nil)
	res, err := resolve(t, values)
	if err != nil {
		if !strings.Contains(err.Error(), "services.") {
			// Some of compose-go's errors (a port) do not name the key:
			// name those that take variables.
			var keys []string
			for _, r := range references([]byte(t.Compose)) {
				keys = append(keys, r.path+" ("+strings.Join(r.names(), ", ")+")")
			}
			err = fmt.Errorf("%w (keys set from variables: %s)", err, strings.Join(keys, "; "))
		}
		re := &ResolveError{File: t.SourcePath, Missing: missingRequired(err)}
		re.text = sc.Scrub(re.message(err))
		return Resolution{}, re
	}
	for i, w := range res.Warnings {
		res.Warnings[i].Message = sc.Scrub(w.Message)
	}
	return res, nil
}

// ResolveError is a template that does not resolve with a stack's
// variables. Its text is scrubbed of the secret variables' values.
type ResolveError struct {
	// File is the template file (its source path).
	File string
	// Missing are the required variables that have no value.
	Missing []string
	text    string
}

func (e *ResolveError) Error() string { return e.text }

// message says what went wrong (err) and what to do, in clear text.
func (e *ResolveError) message(err error) string {
	msg := "template file " + e.File + ": " + err.Error()
	if len(e.Missing) > 0 {
		msg += fmt.Sprintf("; give %s under variables: in the stack file (variables: {%s: ...})",
			strings.Join(e.Missing, ", "), e.Missing[0])
	} else {
		msg += "; check the value the stack's variables: section gives the variables of that key"
	}
	return msg
}

func resolve(t spec.Template, values map[string]string) (Resolution, error) {
	content := []byte(t.Compose)
	abs := t.SourcePath
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(string(filepath.Separator), abs)
	}
	interpolate := func(o *loader.Options) {
		o.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
			return template.SubstituteWithOptions(s, m, template.WithoutLogging)
		}
		o.Interpolate.LookupValue = func(name string) (string, bool) {
			v, ok := values[name]
			return v, ok
		}
	}
	svc, project, err := loadService(abs, content, interpolate)
	if err != nil {
		return Resolution{}, err
	}
	m := &mapper{file: t.SourcePath, service: svc.Name, storedConfigs: t.Spec.ConfigFiles, resolving: true}
	s := m.serviceSpec(svc, filepath.Dir(abs))
	m.storedFiles(&s, t.Spec, project)
	if err := m.err(); err != nil {
		return Resolution{}, err
	}
	refs := references(content)
	res := Resolution{Spec: s}
	for _, r := range refs {
		if field, ok := fieldOf(r.path, r.value, svc.Name); ok {
			res.Uses = addUse(res.Uses, field, r.names())
		}
		for _, v := range plainRefs(r.value) {
			if _, given := values[v]; !given {
				res.Warnings = append(res.Warnings, Warning{File: t.SourcePath, Key: r.path, Message: fmt.Sprintf(
					"variable %s is not set, so it is replaced by an empty string (as compose does); give it under variables: in the stack file, or write a default as ${%s:-value}", v, v)})
			}
		}
	}
	return res, nil
}

// plainRefs returns the variables a scalar references without a default,
// an alternative or a required marker ($VAR, ${VAR}), sorted: unset,
// compose substitutes "" for them.
func plainRefs(s string) []string {
	var out []string
	for _, m := range template.DefaultPattern.FindAllStringSubmatch(s, -1) {
		name := m[namedGroup]
		if name == "" && braceRef.MatchString(m[0]) {
			name = m[bracedGroup]
		}
		if name != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var (
	namedGroup  = template.DefaultPattern.SubexpIndex("named")
	bracedGroup = template.DefaultPattern.SubexpIndex("braced")
	// braceRef is a braced reference with no operator: ${VAR}.
	braceRef = regexp.MustCompile(`^\$\{[_a-zA-Z][_a-zA-Z0-9]*\}$`)
)

// missingRequired returns the names of the required variables compose
// found missing in err, sorted, without duplicates.
func missingRequired(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		var m *template.MissingRequiredError
		if errors.As(e, &m) && !slices.Contains(out, m.Variable) {
			out = append(out, m.Variable)
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			if c := u.Unwrap(); c != nil {
				walk(c)
			}
		}
	}
	walk(err)
	slices.Sort(out)
	return out
}

// reference is a scalar of a compose file that references variables.
type reference struct {
	path  string // as walkScalars writes it: services.app.environment.FOO
	tpath tree.Path
	value string
	vars  []template.Variable
}

func (r reference) names() []string {
	out := make([]string, 0, len(r.vars))
	for _, v := range r.vars {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// references returns every scalar of the compose file that holds an
// unescaped variable reference, in document order. A file it cannot read
// yields none (compose-go reports the problem).
func references(content []byte) []reference {
	var out []reference
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return out
		}
		walkNodes(&doc, "", tree.NewPath(), func(_ *yaml.Node, _ int, path string, tp tree.Path, n *yaml.Node) {
			vars := variablesOf(n.Value)
			if len(vars) > 0 {
				out = append(out, reference{path: path, tpath: tp, value: n.Value, vars: vars})
			}
		})
	}
}

// variablesOf returns the variables a scalar references, as compose reads
// them, sorted by name.
func variablesOf(s string) []template.Variable {
	if !strings.Contains(s, "$") {
		return nil
	}
	found := template.ExtractVariables(map[string]any{"v": s}, template.DefaultPattern)
	out := make([]template.Variable, 0, len(found))
	for _, v := range found {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b template.Variable) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// walkNodes calls fn for every scalar value under n with its parent node,
// its index in the parent's Content, its path as walkScalars writes it and
// as a compose-go tree.Path. Keys are not visited.
func walkNodes(n *yaml.Node, path string, tp tree.Path, fn func(parent *yaml.Node, i int, path string, tp tree.Path, n *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkNodes(c, path, tp, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			c := n.Content[i+1]
			if c.Kind == yaml.ScalarNode {
				fn(n, i+1, p, tp.Next(k), c)
				continue
			}
			walkNodes(c, p, tp.Next(k), fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.Kind == yaml.ScalarNode {
				fn(n, i, p, tp.Next(tree.PathMatchList), c)
				continue
			}
			walkNodes(c, p, tp.Next(tree.PathMatchList), fn)
		}
	}
}

// fieldOf maps the compose path of a service's value to the field it sets,
// as the plan names it: environment.K and "K=v" list items to env.K,
// labels likewise, anything else to its path without list indexes
// ("ports[0]" is "ports", "healthcheck.test[1]" is "healthcheck.test";
// the plan's "healthcheck" matches it as a prefix). ok is false outside
// the service.
func fieldOf(path, value, service string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "services."+service+".")
	if !ok {
		return "", false
	}
	for _, m := range []struct{ compose, field string }{{"environment", "env"}, {"labels", "labels"}} {
		if k, ok := strings.CutPrefix(rest, m.compose+"."); ok {
			return m.field + "." + k, true
		}
		if strings.HasPrefix(rest, m.compose+"[") {
			k, _, _ := strings.Cut(value, "=")
			return m.field + "." + k, true
		}
	}
	if i := strings.IndexByte(rest, '['); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

// addUse records that field's value came from names.
func addUse(uses []spec.VariableUse, field string, names []string) []spec.VariableUse {
	for i := range uses {
		if uses[i].Field == field {
			uses[i].Variables = slices.Compact(slices.Sorted(slices.Values(append(uses[i].Variables, names...))))
			return uses
		}
	}
	return append(uses, spec.VariableUse{Field: field, Variables: names})
}

// catalogCopy prepares a template file that references variables for its
// catalog copy (the spec shown in the catalog; stacks resolve the file
// itself with Resolve): every scalar holding a reference at a key compose
// casts to a non-string type (read_only, ports, ulimits...) is removed, as
// "${X}" cannot be read as one. It returns the edited file and the paths
// of the removed values.
func catalogCopy(content []byte, casts map[tree.Path]func(string) (any, error)) ([]byte, []string, error) {
	var (
		out     bytes.Buffer
		removed []string
	)
	dec := yaml.NewDecoder(bytes.NewReader(content))
	enc := yaml.NewEncoder(&out)
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		type cut struct {
			parent *yaml.Node
			i      int
		}
		var cuts []cut
		walkNodes(&doc, "", tree.NewPath(), func(parent *yaml.Node, i int, path string, tp tree.Path, n *yaml.Node) {
			if len(variablesOf(n.Value)) == 0 || !typedPath(tp, casts) {
				return
			}
			cuts = append(cuts, cut{parent, i})
			removed = append(removed, path)
		})
		for j := len(cuts) - 1; j >= 0; j-- {
			c := cuts[j]
			if c.parent.Kind == yaml.MappingNode {
				c.parent.Content = slices.Delete(c.parent.Content, c.i-1, c.i+1)
			} else {
				c.parent.Content = slices.Delete(c.parent.Content, c.i, c.i+1)
			}
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, nil, fmt.Errorf("write catalog copy: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, fmt.Errorf("write catalog copy: %w", err)
	}
	if len(removed) == 0 {
		return content, nil, nil // the file as written, not a re-encoding
	}
	return out.Bytes(), removed, nil
}

func typedPath(p tree.Path, casts map[tree.Path]func(string) (any, error)) bool {
	for pattern := range casts {
		if p.Matches(pattern) {
			return true
		}
	}
	return false
}

// typeCasts returns the paths compose-go casts from strings, the
// controller's own (ports) included.
func typeCasts() map[tree.Path]func(string) (any, error) {
	o := loader.ToOptions(&types.ConfigDetails{}, loaderOptions("template"))
	out := make(map[tree.Path]func(string) (any, error), len(o.Interpolate.TypeCastMapping))
	for p, c := range o.Interpolate.TypeCastMapping {
		out[p] = c
	}
	return out
}

// withRemovedKeys adds to a service's set keys those the catalog copy of
// its file left out (catalogCopy): they are set, from the stack.
func withRemovedKeys(keys []string, service string, removed []string) []string {
	for _, path := range removed {
		rest, ok := strings.CutPrefix(path, "services."+service+".")
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(rest, ".")
		key, _, _ = strings.Cut(key, "[")
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}
