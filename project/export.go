package project

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// ComposeFile is a stack's compose project written as a compose file
// (see Compose).
type ComposeFile struct {
	// Data is the compose file.
	Data []byte
	// Variables are the compose variables the file references in place
	// of secret values, sorted; empty when the file holds the values.
	Variables []string
	// Warnings name the services whose loaded config hash differs from
	// the applied one, and why; one sentence each.
	Warnings []string
	// values are the variables' values, for EnvFile only.
	values map[string]string
}

// Env returns the values of the file's variables, for loading it.
func (c *ComposeFile) Env() map[string]string {
	out := make(map[string]string, len(c.values))
	for k, v := range c.values {
		out[k] = v
	}
	return out
}

// EnvFile returns a .env file that gives every variable of the compose
// file its value, in the syntax docker compose reads next to the file.
// It holds secret values: write it only where the user asked for it,
// with mode 0600.
func (c *ComposeFile) EnvFile() []byte {
	var b bytes.Buffer
	b.WriteString("# Secrets of an exported compose file; keep this file private.\n")
	for _, name := range c.Variables {
		fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(c.values[name]))
	}
	return b.Bytes()
}

// dotenvQuote quotes a value for compose's .env reader: single quotes
// keep everything literally; a value with a single quote or a line break
// is double-quoted with its escapes.
func dotenvQuote(v string) string {
	if !strings.ContainsAny(v, "'\n\r") {
		return "'" + v + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "$", `\$`)
	return `"` + r.Replace(v) + `"`
}

// Compose writes the compose project the controller applies for stack s
// (Build with the installation's options o) as a compose file: every
// service as `docker compose config` prints it, with the labels, config
// file mounts and networks apply gives it, so that loading the file with
// the compose library gives services with the config hashes
// (com.docker.compose.config-hash) the controller's containers carry.
// Every "$" of a value is written "$$", so that compose's interpolation
// gives the value back.
//
// Secret values are never written unless includeSecrets: a secret env
// value becomes a ${VARIABLE} reference, as does a secret (a stack
// variable, an env value, an option) embedded in any other value;
// ComposeFile.Variables names them, and compose reads their values from
// a .env file next to the compose file (ComposeFile.EnvFile) or the
// environment. Secret files and config files are mounted from the state
// directory, where apply writes them; their contents are never in the
// file.
func Compose(s spec.Stack, o Options, includeSecrets bool) (*ComposeFile, error) {
	p, err := Build(s, o)
	if err != nil {
		return nil, err
	}
	var warnings []string
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		svc := p.Services[name]
		if w := loadableResources(&svc); w != "" {
			p.Services[name] = svc
			warnings = append(warnings, w)
		}
	}
	raw, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("write compose file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("write compose file: %w", err)
	}
	out := &ComposeFile{values: map[string]string{}, Warnings: warnings}
	w := composeWriter{file: out, names: map[string]string{}, byValue: map[string]string{}}
	if !includeSecrets {
		w.collect(s)
	}
	w.rewrite(&doc, nil)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Compose project of stack %s, exported by devarch-controller.\n", s.Name)
	if len(out.Variables) > 0 {
		fmt.Fprintf(&b, "# Secret values are references; give %s in a .env file next to this file or in the environment.\n", strings.Join(out.Variables, ", "))
	}
	b.WriteString("# Networks are external: the controller creates them; config and secret files are mounted from its state directory.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("write compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write compose file: %w", err)
	}
	out.Data = b.Bytes()
	return out, nil
}

// loadableResources copies a service's top-level resource limits
// (mem_limit, cpus, mem_reservation, pids_limit) into the deploy.resources
// limits it also has but leaves unset: compose's loader refuses a file
// whose two values differ, and the engine applies both alike. The
// loaded service's config hash then differs from the applied one; the
// warning says so ("" when nothing was copied).
func loadableResources(svc *types.ServiceConfig) string {
	if svc.Deploy == nil {
		return ""
	}
	d := *svc.Deploy
	var copied []string
	if l := d.Resources.Limits; l != nil {
		c := *l
		if svc.CPUS != 0 && c.NanoCPUs == 0 {
			c.NanoCPUs, copied = types.NanoCPUs(svc.CPUS), append(copied, "cpus")
		}
		if svc.MemLimit != 0 && c.MemoryBytes == 0 {
			c.MemoryBytes, copied = svc.MemLimit, append(copied, "mem_limit")
		}
		if svc.PidsLimit != 0 && c.Pids == 0 {
			c.Pids, copied = svc.PidsLimit, append(copied, "pids_limit")
		}
		d.Resources.Limits = &c
	}
	if r := d.Resources.Reservations; r != nil && svc.MemReservation != 0 && r.MemoryBytes == 0 {
		c := *r
		c.MemoryBytes, copied = svc.MemReservation, append(copied, "mem_reservation")
		d.Resources.Reservations = &c
	}
	if len(copied) == 0 {
		return ""
	}
	svc.Deploy = &d
	return fmt.Sprintf("Service %s sets %s beside deploy.resources, which compose refuses in a file unless both say the same: the file repeats the value in deploy.resources, so the engine applies the same limits, but compose's config hash of the service differs from the running container's.",
		svc.Name, strings.Join(copied, ", "))
}

// composeWriter replaces secret values by variable references.
type composeWriter struct {
	file *ComposeFile
	// envs maps instance → env key → variable name, for secret env
	// values (replaced whole, however short); byValue maps the other
	// secret values (long enough to find inside text) to their
	// variable; names maps variable names to their values.
	envs    map[string]map[string]string
	byValue map[string]string
	names   map[string]string
	// ordered are byValue's values, longest first.
	ordered []string
}

// collect names every secret value of the stack.
func (w *composeWriter) collect(s spec.Stack) {
	w.envs = map[string]map[string]string{}
	for _, v := range slices.SortedFunc(slices.Values(s.Variables), func(a, b spec.Variable) int { return cmp.Compare(a.Name, b.Name) }) {
		if v.IsSecret() && len(v.Value) >= spec.MinScrubLength {
			w.byValue[v.Value] = cmp.Or(w.byValue[v.Value], w.name(v.Value, v.Name))
		}
	}
	for _, inst := range s.Instances {
		for _, v := range inst.Effective.Env {
			if !v.IsSecret() {
				continue
			}
			name := w.name(v.Value, inst.Name+"_"+v.Key)
			if w.envs[inst.Name] == nil {
				w.envs[inst.Name] = map[string]string{}
			}
			w.envs[inst.Name][v.Key] = name
			if len(v.Value) >= spec.MinScrubLength && w.byValue[v.Value] == "" {
				w.byValue[v.Value] = name
			}
		}
		for _, f := range inst.Effective.OptionFields {
			if f.Secret && len(f.Value) >= spec.MinScrubLength && w.byValue[f.Value] == "" {
				w.byValue[f.Value] = w.name(f.Value, inst.Name+"_"+f.Path)
			}
		}
	}
	for v := range w.byValue {
		w.ordered = append(w.ordered, v)
	}
	slices.SortFunc(w.ordered, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
}

// name returns a variable name for value: candidate as an environment
// variable name, numbered when another value has it.
func (w *composeWriter) name(value, candidate string) string {
	base := variableName(candidate)
	name := base
	for i := 2; ; i++ {
		if v, ok := w.names[name]; !ok || v == value {
			break
		}
		name = base + "_" + strconv.Itoa(i)
	}
	w.names[name] = value
	return name
}

// variableName turns text into a compose variable name.
func variableName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "_" + out
	}
	return out
}

// use records that the file references name.
func (w *composeWriter) use(name string) string {
	if _, ok := w.file.values[name]; !ok {
		w.file.values[name] = w.names[name]
		w.file.Variables = append(w.file.Variables, name)
		slices.Sort(w.file.Variables)
	}
	return "${" + name + "}"
}

// rewrite walks the document: path holds the mapping keys above n.
func (w *composeWriter) rewrite(n *yaml.Node, path []string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			w.rewrite(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.rewrite(n.Content[i+1], append(slices.Clip(path), n.Content[i].Value))
		}
	case yaml.ScalarNode:
		if n.Tag != "!!str" {
			return
		}
		if len(path) == 4 && path[0] == "services" && path[2] == "environment" {
			if name, ok := w.envs[path[1]][path[3]]; ok {
				n.Value = w.use(name)
				n.Style = 0
				return
			}
		}
		n.Value = w.text(n.Value)
	}
}

// text escapes a value's "$" and replaces the secret values inside it.
func (w *composeWriter) text(s string) string {
	var b strings.Builder
	for s != "" {
		at, found := len(s), ""
		for _, v := range w.ordered {
			if i := strings.Index(s, v); i >= 0 && i < at {
				at, found = i, v
			}
		}
		b.WriteString(strings.ReplaceAll(s[:at], "$", "$$"))
		if found == "" {
			break
		}
		b.WriteString(w.use(w.byValue[found]))
		s = s[at+len(found):]
	}
	return b.String()
}
