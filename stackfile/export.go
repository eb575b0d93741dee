package stackfile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
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

// The yaml structs below are the written form; field order is the
// order in the file.

type exportDoc struct {
	Version   int                        `yaml:"version"`
	Stack     exportStack                `yaml:"stack"`
	Variables map[string]string          `yaml:"variables,omitempty"`
	Instances map[string]*exportInstance `yaml:"instances"`
	Networks  map[string]any             `yaml:"networks,omitempty"`
	Volumes   map[string]any             `yaml:"volumes,omitempty"`
	Secrets   map[string]any             `yaml:"secrets,omitempty"`
	Configs   map[string]any             `yaml:"configs,omitempty"`
	Wires     []wireDoc                  `yaml:"wires,omitempty"`
}

type exportStack struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	NetworkName string `yaml:"network_name,omitempty"`
	Enabled     *bool  `yaml:"enabled,omitempty"`
}

type exportInstance struct {
	Template     string                   `yaml:"template"`
	Enabled      bool                     `yaml:"enabled"`
	Image        string                   `yaml:"image,omitempty"`
	Command      []string                 `yaml:"command,omitempty"`
	Entrypoint   []string                 `yaml:"entrypoint,omitempty"`
	Environment  map[string]string        `yaml:"environment,omitempty"`
	EnvFiles     []string                 `yaml:"env_files,omitempty"`
	Ports        []exportPort             `yaml:"ports,omitempty"`
	Volumes      []exportVolume           `yaml:"volumes,omitempty"`
	Healthcheck  *exportHealthcheck       `yaml:"healthcheck,omitempty"`
	Dependencies []string                 `yaml:"dependencies,omitempty"`
	Labels       map[string]string        `yaml:"labels,omitempty"`
	Secrets      []any                    `yaml:"secrets,omitempty"`
	Configs      []any                    `yaml:"configs,omitempty"`
	Networks     map[string]any           `yaml:"networks,omitempty"`
	ConfigFiles  map[string]configFileDoc `yaml:"config_files,omitempty"`
	ConfigMounts []exportMount            `yaml:"config_mounts,omitempty"`
	Domains      []domainDoc              `yaml:"domains,omitempty"`
	Build        map[string]any           `yaml:"build,omitempty"`
	Options      map[string]any           `yaml:",inline"`
}

type exportPort struct {
	HostIP        string `yaml:"host_ip,omitempty"`
	HostPort      int    `yaml:"host_port,omitempty"`
	ContainerPort int    `yaml:"container_port"`
	Protocol      string `yaml:"protocol"`
}

type exportVolume struct {
	Source   string `yaml:"source,omitempty"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only,omitempty"`
}

type exportHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval,omitempty"`
	Timeout     string   `yaml:"timeout,omitempty"`
	StartPeriod string   `yaml:"start_period,omitempty"`
	Retries     int      `yaml:"retries,omitempty"`
}

type exportMount struct {
	TargetPath     string `yaml:"target_path"`
	ConfigFilePath string `yaml:"config_file_path"`
}

func (w *exporter) document(s spec.Stack) exportDoc {
	doc := exportDoc{
		Version:   SupportedVersion,
		Stack:     exportStack{Name: s.Name, Description: s.Description, NetworkName: s.NetworkName},
		Instances: map[string]*exportInstance{},
	}
	if !s.Enabled {
		doc.Stack.Enabled = new(false)
	}
	w.vars = map[string]string{}
	for _, v := range s.Variables {
		w.vars[v.Name] = v.Value
	}
	doc.Variables = w.variables(s.Variables)
	for _, inst := range s.Instances {
		doc.Instances[inst.Name] = w.instance(inst)
	}
	doc.Networks = w.networks(s.Instances)
	doc.Volumes = w.volumeDefs(s.Instances)
	doc.Secrets, doc.Configs = w.fileDecls(s.Instances)
	for _, wire := range s.Wires {
		doc.Wires = append(doc.Wires, wireDoc(wire))
	}
	return doc
}

// variables writes the variables: a secret one as a reference to a
// secret of its own name.
func (w *exporter) variables(vars []spec.Variable) map[string]string {
	if len(vars) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, v := range vars {
		if v.IsSecret() {
			delete(w.vars, v.Name) // the name now names the secret
			out[v.Name] = secretRefOf(w.secretName(v.Value, v.Name))
			continue
		}
		out[v.Name] = v.Value
	}
	return out
}

func (w *exporter) instance(inst spec.Instance) *exportInstance {
	prefix := "instances." + inst.Name
	if inst.TemplateName() == "" {
		w.fail(prefix+".template", "instance %q carries a full spec of its own, without a catalog template, which a stack file cannot express; base it on a template", inst.Name)
	}
	o := inst.Overrides
	out := &exportInstance{
		Template:     inst.TemplateName(),
		Enabled:      inst.Enabled,
		Image:        o.Image,
		Command:      o.Command,
		Entrypoint:   o.Entrypoint,
		EnvFiles:     o.EnvFiles,
		Healthcheck:  w.healthcheck(prefix, o.Healthcheck),
		Dependencies: w.dependencies(prefix, o.DependsOn),
		Domains:      domains(o.Domains),
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"working_dir", o.WorkingDir != ""}, {"user", o.User != ""}, {"privileged", o.Privileged}, {"cap_add", len(o.CapAdd) > 0}} {
		if f.set {
			w.fail(prefix+"."+f.name, "the instance overrides %s, which a stack file cannot set; set it in the template instead", f.name)
		}
	}
	out.Environment = w.environment(inst, o.Env)
	out.Ports = ports(o.Ports)
	out.Volumes = w.volumes(prefix, o.Volumes)
	out.Labels = labels(o.Labels)
	out.ConfigFiles, out.ConfigMounts = w.configFiles(prefix, o.ConfigFiles)
	out.Secrets = fileMountEntries(o.Secrets)
	out.Configs = fileMountEntries(o.Configs)
	if o.Networks != nil {
		out.Networks = attachments(o.Networks)
	}
	out.Build = w.build(prefix, o.Build)
	out.Options = w.options(prefix, o.Options, o.Restart)
	return out
}

// environment writes the instance's env overrides, secret values as
// references.
func (w *exporter) environment(inst spec.Instance, env []spec.EnvVar) map[string]string {
	if len(env) == 0 {
		return nil
	}
	out := map[string]string{}
	files := map[string]bool{}
	for _, v := range env {
		if v.File != "" {
			files[v.File] = true
		}
		if v.IsSecret() {
			out[v.Key] = secretRefOf(w.secretName(v.Value, v.Key, inst.Name+"_"+v.Key))
			continue
		}
		out[v.Key] = v.Value
	}
	for _, f := range slices.Sorted(maps.Keys(files)) {
		w.notes = append(w.notes, fmt.Sprintf("instances.%s.environment: the variables read from env file %s at import are written as environment values.", inst.Name, f))
	}
	return out
}

func ports(in []spec.Port) []exportPort {
	out := make([]exportPort, 0, len(in))
	for _, p := range in {
		out = append(out, exportPort{HostIP: p.HostIP, HostPort: int(p.HostPort), ContainerPort: int(p.ContainerPort), Protocol: p.Protocol})
	}
	return out
}

// volumes writes mounts in the stack file's form, where the source says
// the type: a path is a bind mount, a name a volume, none an anonymous
// volume.
func (w *exporter) volumes(prefix string, in []spec.Volume) []exportVolume {
	out := make([]exportVolume, 0, len(in))
	for i, v := range in {
		isPath := strings.HasPrefix(v.Source, "/") || strings.HasPrefix(v.Source, ".")
		switch {
		case v.Type == spec.VolumeTypeBind && isPath, v.Type == spec.VolumeTypeVolume && !isPath:
		default:
			w.fail(fmt.Sprintf("%s.volumes[%d]", prefix, i), "a %s mount of %q at %s cannot be written as a stack file volume (a path starting with / or . is a bind mount, a name a volume); change the mount", v.Type, v.Source, v.Target)
			continue
		}
		out = append(out, exportVolume{Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
	}
	return out
}

func (w *exporter) healthcheck(prefix string, h *spec.Healthcheck) *exportHealthcheck {
	if h == nil {
		return nil
	}
	if h.Disable && len(h.Test) == 0 {
		return &exportHealthcheck{Test: []string{"NONE"}}
	}
	if h.Disable || len(h.Test) == 0 {
		w.fail(prefix+".healthcheck", "the healthcheck has no test or is disabled beside one, which a stack file cannot express; give a test, or NONE")
		return nil
	}
	out := &exportHealthcheck{Test: h.Test, Retries: h.Retries}
	for _, d := range []struct {
		in  spec.Duration
		out *string
	}{{h.Interval, &out.Interval}, {h.Timeout, &out.Timeout}, {h.StartPeriod, &out.StartPeriod}} {
		if d.in != 0 {
			*d.out = d.in.String()
		}
	}
	return out
}

func (w *exporter) dependencies(prefix string, in []spec.Dependency) []string {
	var out []string
	for _, d := range in {
		if d.Condition != spec.ConditionStarted && d.Condition != "" {
			w.fail(prefix+".dependencies", "the dependency on %q waits for %s, and a stack file's dependencies wait for service_started only; change the condition", d.Name, d.Condition)
			continue
		}
		out = append(out, d.Name)
	}
	return out
}

func labels(in []spec.Label) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for _, l := range in {
		out[l.Key] = l.Value
	}
	return out
}

func domains(in []spec.Domain) []domainDoc {
	var out []domainDoc
	for _, d := range in {
		out = append(out, domainDoc(d))
	}
	return out
}

// configFiles writes config files with their mounts; a file without a
// mode gets the default one explicitly (a note says so).
func (w *exporter) configFiles(prefix string, in []spec.ConfigFile) (map[string]configFileDoc, []exportMount) {
	if len(in) == 0 {
		return nil, nil
	}
	files := map[string]configFileDoc{}
	var mounts []exportMount
	for _, c := range in {
		if c.Mode == 0 {
			w.notes = append(w.notes, fmt.Sprintf("%s.config_files.%s: the config file has no mode of its own; it is written with the default, %04o.", prefix, c.Path, c.FileMode()))
		}
		files[c.Path] = configFileDoc{Content: c.Content, FileMode: fmt.Sprintf("%04o", c.FileMode())}
		mounts = append(mounts, exportMount{TargetPath: c.Target, ConfigFilePath: c.Path})
	}
	return files, mounts
}

// fileMountEntries writes a service's secrets or configs in compose's long
// syntax; the content goes to the top-level declaration (fileDecls).
func fileMountEntries(in []spec.FileMount) []any {
	var out []any
	for _, f := range in {
		e := map[string]any{"source": f.Name, "target": escapeDollars(f.Target)}
		if f.UID != "" {
			e["uid"] = f.UID
		}
		if f.GID != "" {
			e["gid"] = f.GID
		}
		if f.Mode != 0 {
			e["mode"] = octal(f.Mode)
		}
		out = append(out, e)
	}
	return out
}

// octal is a file mode as YAML's octal integer (0o644).
func octal(m uint32) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprintf("0o%o", m)}
}

// fileDecls writes the top-level secrets and configs the instances use:
// a secret's content as a secret declared with environment: NAME, a
// config's as content. A name must mean one content across the stack.
func (w *exporter) fileDecls(insts []spec.Instance) (map[string]any, map[string]any) {
	secrets, configs := map[string]any{}, map[string]any{}
	seenSecret, seenConfig := map[string]string{}, map[string]string{}
	for _, inst := range insts {
		for _, f := range inst.Overrides.Secrets {
			if prev, ok := seenSecret[f.Name]; ok {
				if prev != f.Content {
					w.fail("instances."+inst.Name+".secrets."+f.Name, "another instance has a secret of the same name with other content, and a stack file declares each secret once; rename one")
				}
				continue
			}
			seenSecret[f.Name] = f.Content
			secrets[f.Name] = map[string]any{"environment": w.secretName(f.Content, f.Name, "SECRET_"+f.Name)}
			w.fileNote(inst.Name, "secret", f)
		}
		for _, f := range inst.Overrides.Configs {
			if prev, ok := seenConfig[f.Name]; ok {
				if prev != f.Content {
					w.fail("instances."+inst.Name+".configs."+f.Name, "another instance has a config of the same name with other content, and a stack file declares each config once; rename one")
				}
				continue
			}
			seenConfig[f.Name] = f.Content
			configs[f.Name] = map[string]any{"content": escapeDollars(f.Content)}
			w.fileNote(inst.Name, "config", f)
		}
	}
	return nilIfEmptyMap(secrets), nilIfEmptyMap(configs)
}

func (w *exporter) fileNote(instance, kind string, f spec.FileMount) {
	if f.From != "" && f.From != "content" && !strings.HasPrefix(f.From, "environment ") {
		w.notes = append(w.notes, fmt.Sprintf("instances.%s.%ss.%s: read from %s at import, it is written as %s.", instance, kind, f.Name, f.From,
			map[string]string{"secret": "a secret declared with environment:", "config": "content"}[kind]))
	}
}

// volumeDefs writes the top-level volume declarations the instances use.
func (w *exporter) volumeDefs(insts []spec.Instance) map[string]any {
	out := map[string]any{}
	seen := map[string]spec.VolumeDef{}
	for _, inst := range insts {
		for _, d := range inst.Overrides.VolumeDefs {
			d.Source = ""
			if prev, ok := seen[d.Key]; ok {
				if !equalJSON(prev, d) {
					w.fail("instances."+inst.Name+".volumes."+d.Key, "another instance declares volume %s otherwise, and a stack file declares each volume once; make the declarations equal", d.Key)
				}
				continue
			}
			seen[d.Key] = d
			m := map[string]any{}
			if d.Name != "" {
				m["name"] = escapeDollars(d.Name)
			}
			if d.Driver != "" {
				m["driver"] = escapeDollars(d.Driver)
			}
			if len(d.DriverOpts) > 0 {
				m["driver_opts"] = escapeMap(d.DriverOpts)
			}
			if len(d.Labels) > 0 {
				m["labels"] = escapeMap(d.Labels)
			}
			if d.External {
				m["external"] = true
			}
			out[d.Key] = m
		}
	}
	return nilIfEmptyMap(out)
}

// networks writes the stack's networks section: the definitions every
// instance carries (a stack file gives the same ones to each).
func (w *exporter) networks(insts []spec.Instance) map[string]any {
	var defs spec.NetworkDefinitions
	for i, inst := range insts {
		d := inst.Overrides.NetworkDefinitions.Canonical()
		if i == 0 {
			defs = d
			continue
		}
		if !equalJSON(defs, d) {
			w.fail("instances."+inst.Name+".network_definitions", "the instances define the stack's networks differently, and a stack file defines them once for every instance; make the definitions equal")
			return nil
		}
	}
	if len(defs) == 0 {
		return nil
	}
	out := map[string]any{}
	for key, n := range defs {
		m := map[string]any{}
		set := func(k string, v any, ok bool) {
			if ok {
				m[k] = v
			}
		}
		set("name", escapeDollars(n.Name), n.Name != "")
		set("external", true, n.External)
		set("driver", escapeDollars(n.Driver), n.Driver != "")
		set("driver_opts", escapeMap(n.DriverOpts), len(n.DriverOpts) > 0)
		set("labels", escapeMap(n.Labels), len(n.Labels) > 0)
		set("internal", true, n.Internal)
		set("attachable", true, n.Attachable)
		set("enable_ipv6", true, n.EnableIPv6)
		if len(n.Subnets) > 0 {
			var pools []any
			for _, s := range n.Subnets {
				p := map[string]any{"subnet": s.Subnet}
				set := func(k, v string) {
					if v != "" {
						p[k] = v
					}
				}
				set("gateway", s.Gateway)
				set("ip_range", s.IPRange)
				pools = append(pools, p)
			}
			m["ipam"] = map[string]any{"config": pools}
		}
		out[key] = m
	}
	return out
}

// attachments writes an instance's networks in the map form.
func attachments(in spec.Networks) map[string]any {
	out := map[string]any{}
	for key, a := range in {
		if a.IsZero() {
			out[key] = nil
			continue
		}
		out[key] = escapeAny(jsonValue(a))
	}
	return out
}

// build writes a build section in compose's syntax.
func (w *exporter) build(prefix string, b *spec.Build) map[string]any {
	if b == nil {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		if spec.IsSecretName(k) {
			w.fail(prefix+".build.args."+k, "the build argument is a secret, and a stack file can only take build arguments as values; the export never writes a secret value")
		}
	}
	m, _ := jsonValue(b).(map[string]any)
	m, _ = escapeAny(m).(map[string]any)
	bytesAsText(m, "shm_size")
	return m
}

// options writes the instance's compose options as a compose file has
// them, and its restart policy as deploy.restart_policy (the stack file's
// way to set it).
func (w *exporter) options(prefix string, o spec.Options, restart string) map[string]any {
	if o.Logging != nil {
		for _, k := range slices.Sorted(maps.Keys(o.Logging.Options)) {
			if spec.IsSecretName(k) {
				w.fail(prefix+".logging.options."+k, "the log option is a secret, and a stack file takes option values literally; the export never writes a secret value")
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
		if spec.IsSecretName(k) {
			w.fail(prefix+".annotations."+k, "the annotation is a secret, and a stack file takes option values literally; the export never writes a secret value")
		}
	}
	out, _ := jsonValue(o).(map[string]any)
	out, _ = escapeAny(out).(map[string]any)
	bytesAsText(out, "mem_limit", "mem_reservation", "memswap_limit", "shm_size")
	if deploy, ok := out["deploy"].(map[string]any); ok {
		if res, ok := deploy["resources"].(map[string]any); ok {
			for _, k := range []string{"limits", "reservations"} {
				if r, ok := res[k].(map[string]any); ok {
					bytesAsText(r, "memory")
				}
			}
		}
	}
	if out == nil {
		out = map[string]any{}
	}
	if restart != "" {
		policy, ok := restartPolicy(restart)
		if !ok {
			w.fail(prefix+".restart", "restart %q cannot be written as deploy.restart_policy, the stack file's way to set a restart policy; use always, no or on-failure", restart)
		} else {
			deploy, _ := out["deploy"].(map[string]any)
			if deploy == nil {
				deploy = map[string]any{}
			}
			deploy["restart_policy"] = policy
			out["deploy"] = deploy
		}
	}
	return nilIfEmptyMap(out)
}

// restartPolicy is the deploy.restart_policy the stack file reader turns
// into restart.
func restartPolicy(restart string) (map[string]any, bool) {
	switch restart {
	case "always":
		return map[string]any{"condition": "any"}, true
	case "no":
		return map[string]any{"condition": "none"}, true
	case "on-failure":
		return map[string]any{"condition": "on-failure"}, true
	}
	if n, ok := strings.CutPrefix(restart, "on-failure:"); ok {
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && v > 0 {
			return map[string]any{"condition": "on-failure", "max_attempts": v}, true
		}
	}
	return nil, false
}

// bytesAsText writes sizes (spec.Bytes, numbers in JSON) as text, as
// compose's schema wants them.
func bytesAsText(m map[string]any, keys ...string) {
	for _, k := range keys {
		if n, ok := m[k].(int64); ok {
			m[k] = strconv.FormatInt(n, 10)
		}
	}
}

// jsonValue returns v as generic JSON values (objects, arrays, strings,
// bools, int64 or float64 numbers), in the names its JSON tags give,
// which are compose's.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return numbers(out)
}

// numbers turns json.Number values into int64 or float64.
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, item := range t {
			t[k] = numbers(item)
		}
	case []any:
		for i, item := range t {
			t[i] = numbers(item)
		}
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// escapeDollars doubles every $, as the compose loader that reads options,
// builds, networks and top-level declarations turns $$ into $.
func escapeDollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escapeMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = escapeDollars(v)
	}
	return out
}

// escapeAny escapes every string value inside v.
func escapeAny(v any) any {
	switch t := v.(type) {
	case string:
		return escapeDollars(t)
	case map[string]any:
		for k, item := range t {
			t[k] = escapeAny(item)
		}
	case []any:
		for i, item := range t {
			t[i] = escapeAny(item)
		}
	}
	return v
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func nilIfEmptyMap[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	return m
}
