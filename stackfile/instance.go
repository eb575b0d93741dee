package stackfile

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// volumeName follows Docker's rule for named volumes.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// instance converts one instance; network is the stack's network, for
// warnings.
func (b *builder) instance(name string, d *instanceDoc, known map[string]bool, network string) spec.Instance {
	prefix := "instances." + name
	if d == nil {
		d = &instanceDoc{}
	}
	if err := spec.ValidateName(name); err != nil {
		b.fail(prefix, "instance name: %v", err)
	}
	inst := spec.Instance{Name: name, Enabled: d.Enabled == nil || *d.Enabled}
	switch {
	case d.Template == nil || *d.Template == "":
		b.fail(prefix+".template", "instance %q is missing required field \"template\"; name the catalog template it is based on", name)
	case !templateName.MatchString(*d.Template):
		b.fail(prefix+".template", "template name %q is invalid; catalog template names use letters, digits, '.', '_' and '-'", *d.Template)
	default:
		inst.Template = &spec.Template{Name: *d.Template}
	}
	o := &inst.Overrides
	if d.Image != "" {
		if err := spec.ValidateImageRef(d.Image); err != nil {
			b.fail(prefix+".image", "%v", err)
		}
		b.literalSecretRef(prefix+".image", d.Image)
		o.Image = d.Image
	}
	o.Command = b.argv(prefix+".command", d.Command)
	o.Entrypoint = b.argv(prefix+".entrypoint", d.Entrypoint)
	o.Env = b.env(prefix, d.Environment)
	o.Ports = b.ports(prefix, d.Ports)
	o.Volumes = b.volumes(prefix, d.Volumes)
	o.Healthcheck = b.healthcheck(prefix+".healthcheck", d.Healthcheck)
	o.DependsOn = b.dependencies(prefix, name, d.Dependencies, known)
	o.Labels = b.labels(prefix, d.Labels)
	o.ConfigFiles = b.configFiles(prefix, d.ConfigFiles, d.ConfigMounts)
	b.files(prefix, d, o)
	o.Domains = b.domains(prefix, d.Domains)
	o.Options, o.Restart = b.options(prefix, d.Options)
	o.Build = b.build(prefix+".build", &d.Build)
	dropEmpty(o)
	return inst
}

// options reads the instance's compose service keys with compose's own
// syntax (catalog.ServiceOptions). A key that is not a field of an
// instance is reported with its line, like any unknown field. Values are
// not checked for ${SECRET:…} references: options take literal values.
func (b *builder) options(prefix string, in map[string]yaml.Node) (spec.Options, string) {
	if len(in) == 0 {
		return spec.Options{}, ""
	}
	known := catalog.ServiceOptionKeys()
	keys := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		n := in[k]
		if !slices.Contains(known, k) {
			b.fail(fmt.Sprintf("line %d", n.Line), "unknown field %q in an instance; the fields are %s, and the compose service keys %s",
				k, strings.Join(sections["stackfile.instanceDoc"].fields, ", "), strings.Join(known, ", "))
			continue
		}
		var v any
		if err := n.Decode(&v); err != nil {
			b.fail(prefix+"."+k, "line %d: %v", n.Line, err)
			continue
		}
		b.literalSecretRefs(prefix+"."+k, v)
		keys[k] = v
	}
	if len(keys) < len(in) {
		return spec.Options{}, ""
	}
	var restart string
	o, problems := catalog.ServiceOptions(prefix, keys, &restart)
	b.problems = append(b.problems, problems...)
	return o, restart
}

// literalSecretRefs checks every string inside v for ${SECRET:…}
// references, which only environment values resolve.
func (b *builder) literalSecretRefs(field string, v any) {
	switch t := v.(type) {
	case string:
		b.literalSecretRef(field, t)
	case []any:
		for _, item := range t {
			b.literalSecretRefs(field, item)
		}
	case map[string]any:
		for k, item := range t {
			b.literalSecretRefs(field+"."+k, item)
		}
	}
}

// dropEmpty sets empty lists to nil: nil is how Overrides say "inherit".
func dropEmpty(o *spec.Overrides) {
	o.Command = nilIfEmpty(o.Command)
	o.Entrypoint = nilIfEmpty(o.Entrypoint)
	o.Env = nilIfEmpty(o.Env)
	o.Ports = nilIfEmpty(o.Ports)
	o.Volumes = nilIfEmpty(o.Volumes)
	o.DependsOn = nilIfEmpty(o.DependsOn)
	o.Labels = nilIfEmpty(o.Labels)
	o.ConfigFiles = nilIfEmpty(o.ConfigFiles)
	o.EnvFiles = nilIfEmpty(o.EnvFiles)
	o.Domains = nilIfEmpty(o.Domains)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (b *builder) argv(field string, c command) []string {
	for _, a := range c.argv {
		b.literalSecretRef(field, a)
	}
	if len(c.argv) == 0 {
		return nil
	}
	return c.argv
}

// env resolves ${SECRET:NAME} references. A variable is secret when it
// referenced a secret or when its name looks like a credential.
func (b *builder) env(prefix string, in map[string]*envValue) []spec.EnvVar {
	out := make([]spec.EnvVar, 0, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		field := prefix + ".environment." + k
		if err := spec.ValidateEnvKey(k); err != nil {
			b.fail(field, "%v", err)
			continue
		}
		if in[k] == nil {
			b.fail(field, "the variable has no value; write \"\" for an empty value")
			continue
		}
		value, fromSecret, ok := b.resolveSecrets(field, string(*in[k]))
		if !ok {
			continue
		}
		out = append(out, spec.EnvVar{Key: k, Value: value, Secret: fromSecret || spec.IsSecretName(k)})
	}
	return out
}

func (b *builder) ports(prefix string, in []portDoc) []spec.Port {
	out := make([]spec.Port, 0, len(in))
	for i, p := range in {
		field := fmt.Sprintf("%s.ports[%d]", prefix, i)
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			b.fail(field, "container_port %d is not between 1 and 65535", p.ContainerPort)
			continue
		}
		if p.HostPort < 0 || p.HostPort > 65535 {
			b.fail(field, "host_port %d is not between 0 and 65535 (0 lets the engine choose)", p.HostPort)
			continue
		}
		if p.HostIP != "" {
			if _, err := netip.ParseAddr(p.HostIP); err != nil {
				b.fail(field, "host_ip %q is not an IP address", p.HostIP)
				continue
			}
		}
		port := spec.Port{
			HostIP:        p.HostIP,
			HostPort:      uint16(p.HostPort),
			ContainerPort: uint16(p.ContainerPort),
			Protocol:      strings.ToLower(cmp.Or(p.Protocol, "tcp")),
		}
		if err := spec.ValidatePort(port); err != nil {
			b.fail(field, "%v", err)
			continue
		}
		out = append(out, port)
	}
	slices.SortStableFunc(out, spec.ComparePorts)
	return out
}

// volumes: a source starting with "/" or "." is a bind mount (relative
// paths are resolved by deploy under its workspace), any other source a
// named volume, and no source an anonymous volume.
func (b *builder) volumes(prefix string, in []volumeDoc) []spec.Volume {
	out := make([]spec.Volume, 0, len(in))
	for i, v := range in {
		field := fmt.Sprintf("%s.volumes[%d]", prefix, i)
		if !path.IsAbs(v.Target) {
			b.fail(field, "target %q must be an absolute container path", v.Target)
			continue
		}
		vol := spec.Volume{Type: spec.VolumeTypeVolume, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch {
		case v.Source == "":
		case strings.HasPrefix(v.Source, "/"), strings.HasPrefix(v.Source, "."):
			vol.Type = spec.VolumeTypeBind
		case !volumeName.MatchString(v.Source):
			b.fail(field, "source %q is neither a volume name (letters, digits, '_', '.', '-') nor a path starting with / or .", v.Source)
			continue
		}
		out = append(out, vol)
	}
	return out
}

func (b *builder) dependencies(prefix, self string, in []string, known map[string]bool) []spec.Dependency {
	out := make([]spec.Dependency, 0, len(in))
	seen := map[string]bool{}
	for i, dep := range in {
		field := fmt.Sprintf("%s.dependencies[%d]", prefix, i)
		switch {
		case dep == self:
			b.fail(field, "instance %q depends on itself", self)
		case !known[dep]:
			b.fail(field, "depends on %q, which is not an instance of this stack", dep)
		case seen[dep]:
			b.fail(field, "dependency %q is listed twice", dep)
		default:
			seen[dep] = true
			out = append(out, spec.Dependency{Name: dep, Condition: spec.ConditionStarted})
		}
	}
	slices.SortFunc(out, func(a, b spec.Dependency) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (b *builder) labels(prefix string, in map[string]string) []spec.Label {
	out := make([]spec.Label, 0, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		field := prefix + ".labels." + k
		switch {
		case k == "":
			b.fail(prefix+".labels", "a label has an empty key")
			continue
		case strings.HasPrefix(k, spec.LabelPrefix), strings.HasPrefix(k, "com.docker.compose."):
			b.fail(field, "label %q is reserved for the controller (devarch.* and com.docker.compose.* keys); choose another key", k)
			continue
		}
		b.literalSecretRef(field, in[k])
		out = append(out, spec.Label{Key: k, Value: in[k]})
	}
	return out
}
