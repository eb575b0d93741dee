package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnginesKey is the config file key that names several engines.
const EnginesKey = "engines"

// DefaultEngineName is the name of the one engine a configuration without
// an engines section has: the engine at docker_host.
const DefaultEngineName = "default"

// Engine is one named container engine, as a docker context describes
// one: an endpoint (Host, the same syntax as DOCKER_HOST) and, for
// tcp:// endpoints that require it, the client's TLS files.
type Engine struct {
	// Name is what a stack's engine field refers to.
	Name string
	// Host is the engine endpoint: unix://, tcp://, ssh:// or npipe://.
	Host string
	// Default marks the engine used by stacks that name none.
	Default bool
	// TLS holds the TLS files of a tcp:// endpoint; nil means none.
	TLS *EngineTLS
}

// EngineTLS are the files of a TLS connection to an engine, as
// `docker context create --docker "host=…,ca=…,cert=…,key=…"` takes them.
// Relative paths in the config file are relative to the file's directory.
type EngineTLS struct {
	CA   string
	Cert string
	Key  string
}

// engineNameRe is the syntax of an engine name.
var engineNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// EngineList returns the configured engines in file order. Without an
// engines section it is one engine named DefaultEngineName at DockerHost.
func (c Config) EngineList() []Engine {
	if len(c.Engines) == 0 {
		return []Engine{{Name: DefaultEngineName, Host: c.DockerHost, Default: true}}
	}
	return slices.Clone(c.Engines)
}

// EngineNames returns the configured engines' names in file order.
func (c Config) EngineNames() []string {
	var names []string
	for _, e := range c.EngineList() {
		names = append(names, e.Name)
	}
	return names
}

// DefaultEngine returns the name of the engine used by stacks that name
// none: the one marked default: true, else the first in the file. (YAML
// mappings are unordered in general; the config file's order is kept, but
// marking the default explicitly is clearer. Validate refuses two.)
func (c Config) DefaultEngine() string {
	list := c.EngineList()
	for _, e := range list {
		if e.Default {
			return e.Name
		}
	}
	return list[0].Name
}

// parseEngines reads the engines section of the config file (name and
// at are only for messages): a mapping of engine name to host, default and
// tls. TLS paths are made absolute relative to the file's directory.
func parseEngines(name string, v *yaml.Node) ([]Engine, []string) {
	at := func(n *yaml.Node) string { return fmt.Sprintf("config file %q (line %d)", name, n.Line) }
	if v.Kind != yaml.MappingNode {
		return nil, []string{fmt.Sprintf("engines in %s must be a mapping of engine names to settings, such as \"engines: {local: {host: unix:///var/run/docker.sock}}\".", at(v))}
	}
	dir := ""
	if abs, err := filepath.Abs(name); err == nil {
		dir = filepath.Dir(abs)
	}
	var out []Engine
	var problems []string
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, body := deref(v.Content[i]), deref(v.Content[i+1])
		if k.Kind != yaml.ScalarNode || !engineNameRe.MatchString(k.Value) {
			problems = append(problems, fmt.Sprintf("Engine name %q in %s is not valid; use lower-case letters, digits, - and _ (at most 63).", k.Value, at(k)))
			continue
		}
		if seen[k.Value] {
			problems = append(problems, fmt.Sprintf("Engine %q is configured twice in %s; keep one.", k.Value, at(k)))
			continue
		}
		seen[k.Value] = true
		e, p := parseEngine(k.Value, body, at, dir)
		problems = append(problems, p...)
		out = append(out, e)
	}
	if len(out) == 0 && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("engines in %s is empty; name at least one engine or remove the section to use docker_host.", at(v)))
	}
	return out, problems
}

// parseEngine reads one engine's settings.
func parseEngine(name string, body *yaml.Node, at func(*yaml.Node) string, dir string) (Engine, []string) {
	e := Engine{Name: name}
	if body.Kind != yaml.MappingNode {
		return e, []string{fmt.Sprintf("Engine %q in %s must be a mapping with host (and optionally default and tls).", name, at(body))}
	}
	var problems []string
	for i := 0; i+1 < len(body.Content); i += 2 {
		k, v := deref(body.Content[i]), deref(body.Content[i+1])
		where := fmt.Sprintf("engines.%s.%s in %s", name, k.Value, at(k))
		switch k.Value {
		case "host":
			if v.Kind != yaml.ScalarNode {
				problems = append(problems, where+" must be an endpoint such as unix:///var/run/docker.sock.")
				continue
			}
			e.Host = strings.TrimSpace(v.Value)
		case "default":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				problems = append(problems, where+" must be true or false.")
				continue
			}
			e.Default = v.Value == "true"
		case "tls":
			tls, p := parseEngineTLS(where, v, dir)
			problems = append(problems, p...)
			e.TLS = tls
		default:
			problems = append(problems, fmt.Sprintf("Unknown key %q in engine %q in %s; an engine has host, default and tls.", k.Value, name, at(k)))
		}
	}
	return e, problems
}

// parseEngineTLS reads an engine's tls: {ca, cert, key}.
func parseEngineTLS(where string, v *yaml.Node, dir string) (*EngineTLS, []string) {
	if v.Kind != yaml.MappingNode {
		return nil, []string{where + " must be a mapping with ca, cert and key (file paths)."}
	}
	t := &EngineTLS{}
	var problems []string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, f := deref(v.Content[i]), deref(v.Content[i+1])
		var dst *string
		switch k.Value {
		case "ca":
			dst = &t.CA
		case "cert":
			dst = &t.Cert
		case "key":
			dst = &t.Key
		default:
			problems = append(problems, fmt.Sprintf("Unknown key %q in %s; tls has ca, cert and key.", k.Value, where))
			continue
		}
		if f.Kind != yaml.ScalarNode || f.Value == "" {
			problems = append(problems, fmt.Sprintf("%s.%s must be a file path.", where, k.Value))
			continue
		}
		p := f.Value
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		*dst = filepath.Clean(p)
	}
	return t, problems
}

// validateEngines checks the engines section: every engine has a valid
// endpoint and complete TLS files, at most one is the default.
func validateEngines(engines []Engine) []string {
	var problems []string
	var defaults []string
	for _, e := range engines {
		if e.Default {
			defaults = append(defaults, e.Name)
		}
		for _, p := range validateDockerHost(e.Host) {
			problems = append(problems, strings.Replace(p, "docker_host", "engines."+e.Name+".host", 1))
		}
		if e.TLS != nil && (e.TLS.CA == "" || e.TLS.Cert == "" || e.TLS.Key == "") {
			problems = append(problems, fmt.Sprintf("engines.%s.tls needs ca, cert and key (the files docker --tlsverify uses).", e.Name))
		}
	}
	if len(defaults) > 1 {
		problems = append(problems, fmt.Sprintf("Engines %s are all marked default: true; mark only one.", strings.Join(defaults, ", ")))
	}
	return problems
}

// engineViews print the engines section in file order (a JSON object or
// YAML mapping whose key order is the configuration's).
type engineViews []Engine

// engineView is one engine as the config file writes it.
type engineView struct {
	Host    string         `json:"host" yaml:"host"`
	Default bool           `json:"default,omitempty" yaml:"default,omitempty"`
	TLS     *engineTLSView `json:"tls,omitempty" yaml:"tls,omitempty"`
}

type engineTLSView struct {
	CA   string `json:"ca" yaml:"ca"`
	Cert string `json:"cert" yaml:"cert"`
	Key  string `json:"key" yaml:"key"`
}

func toEngineView(e Engine) engineView {
	v := engineView{Host: e.Host, Default: e.Default}
	if e.TLS != nil {
		v.TLS = &engineTLSView{CA: e.TLS.CA, Cert: e.TLS.Cert, Key: e.TLS.Key}
	}
	return v
}

// MarshalJSON writes the engines as one object, in order.
func (es engineViews) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(toEngineView(e))
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalYAML writes the engines as one mapping, in order.
func (es engineViews) MarshalYAML() (any, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range es {
		var v yaml.Node
		if err := v.Encode(toEngineView(e)); err != nil {
			return nil, err
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: e.Name}, &v)
	}
	return m, nil
}
