package spec

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// Problem is one thing wrong with a stack, instance or template.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// ValidationError lists every problem found, one per line.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems; err returns nil when there are none.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) addErr(field string, err error) {
	if err != nil {
		*ps = append(*ps, Problem{Field: field, Message: err.Error()})
	}
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// MaxNameLength keeps "devarch-<stack>-<instance>" container names and
// "devarch-<stack>-net" network names within what engines accept.
const MaxNameLength = 63

// ValidateName checks that a stack or instance name is DNS-safe: lower-case
// letters, digits and '-', starting and ending with a letter or digit, at
// most 63 characters.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty; use lower-case letters, digits and '-'")
	case len(name) > MaxNameLength:
		return fmt.Errorf("name %q is %d characters long; the limit is %d", name, len(name), MaxNameLength)
	case !dnsLabel.MatchString(name):
		return fmt.Errorf("name %q is not DNS-safe; use lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ValidateEnvKey checks an environment variable name.
func ValidateEnvKey(key string) error {
	if !envKey.MatchString(key) {
		return fmt.Errorf("environment variable name %q is invalid; use letters, digits and '_', not starting with a digit", key)
	}
	return nil
}

// ValidateConfigPath checks a config file path: relative, inside the
// instance's config folder (no "..", no absolute path), clean, and not
// empty.
func ValidateConfigPath(p string) error {
	switch {
	case p == "":
		return errors.New("config file path is empty")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("config file path %q contains a NUL byte", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("config file path %q contains a backslash; use '/' as the separator", p)
	case path.IsAbs(p):
		return fmt.Errorf("config file path %q is absolute; give a path relative to the instance's config folder", p)
	}
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "..":
			return fmt.Errorf("config file path %q leaves the instance's config folder (\"..\" is not allowed)", p)
		case "", ".":
			return fmt.Errorf("config file path %q is not clean; remove empty and \".\" segments", p)
		}
	}
	return nil
}

// ValidateImageRef checks an image reference such as "postgres:16" or
// "ghcr.io/org/app@sha256:...".
func ValidateImageRef(ref string) error {
	if ref == "" {
		return errors.New("image is empty; set an image on the template or the instance")
	}
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("image %q is not a valid image reference: %v", ref, err)
	}
	return nil
}

// ValidatePort checks one port mapping.
func ValidatePort(p Port) error {
	if p.ContainerPort == 0 {
		return errors.New("container port must be between 1 and 65535")
	}
	switch p.Protocol {
	case "", "tcp", "udp", "sctp":
	default:
		return fmt.Errorf("protocol %q is not one of tcp, udp, sctp", p.Protocol)
	}
	return nil
}

var restartPolicies = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`)

// ValidateEffective checks one instance's effective spec. Field names are
// prefixed with prefix (for example "instances.api").
func ValidateEffective(prefix string, e Effective) []Problem {
	var ps problems
	if e.Image.Value != "" || e.Build.Value == nil {
		ps.addErr(prefix+".image", ValidateImageRef(e.Image.Value))
	}
	if b := e.Build.Value; b != nil {
		ps.addErr(prefix+".build", b.Validate())
	}
	for _, v := range e.Env {
		ps.addErr(prefix+".env."+v.Key, ValidateEnvKey(v.Key))
	}
	for i, p := range e.Ports.Value {
		ps.addErr(fmt.Sprintf("%s.ports[%d]", prefix, i), ValidatePort(p))
	}
	for i, v := range e.Volumes.Value {
		f := fmt.Sprintf("%s.volumes[%d]", prefix, i)
		if !path.IsAbs(v.Target) {
			ps.add(f, "volume target %q must be an absolute container path", v.Target)
		}
		switch v.Type {
		case VolumeTypeVolume, VolumeTypeBind, VolumeTypeTmpfs:
		default:
			ps.add(f, "volume type %q is not one of volume, bind, tmpfs", v.Type)
		}
		if v.Type == VolumeTypeBind && v.Source == "" {
			ps.add(f, "bind mount of %q has no source path", v.Target)
		}
	}
	for _, l := range e.Labels {
		if strings.HasPrefix(l.Key, LabelPrefix) || strings.HasPrefix(l.Key, "com.docker.compose.") {
			ps.add(prefix+".labels."+l.Key, "label %q is reserved for the controller; choose another key", l.Key)
		}
	}
	targets := map[string]string{}
	for _, c := range e.ConfigFiles {
		f := prefix + ".config_files." + c.Path
		ps.addErr(f, ValidateConfigPath(c.Path))
		if !path.IsAbs(c.Target) {
			ps.add(f, "target %q must be an absolute container path", c.Target)
		} else if other, dup := targets[c.Target]; dup {
			ps.add(f, "target %q is also the target of %q; each config file needs its own target", c.Target, other)
		}
		targets[c.Target] = c.Path
		if c.Mode&^0o777 != 0 {
			ps.add(f, "file mode %#o has bits outside 0777", c.Mode)
		}
	}
	validateFiles(&ps, prefix, e)
	if r := e.Restart.Value; r != "" && !restartPolicies.MatchString(r) {
		ps.add(prefix+".restart", "restart policy %q is not one of no, always, unless-stopped, on-failure[:N]", r)
	}
	if h := e.Healthcheck.Value; h != nil && !h.Disable && len(h.Test) == 0 {
		ps.add(prefix+".healthcheck", "healthcheck has no test; set a test or disable it")
	}
	ps = append(ps, validateNetworks(prefix, e)...)
	return ps
}

// Validate checks a stack and all its instances: names, every effective
// spec, dependencies on instances that do not exist, and host ports
// published twice inside the stack. It returns a *ValidationError listing
// every problem, or nil.
func (s Stack) Validate() error {
	var ps problems
	if err := ValidateName(s.Name); err != nil {
		ps.add("stack.name", "%v", err)
	}
	names := map[string]bool{}
	for _, inst := range s.Instances {
		prefix := "instances." + inst.Name
		if err := ValidateName(inst.Name); err != nil {
			ps.add(prefix, "%v", err)
		}
		if names[inst.Name] {
			ps.add(prefix, "instance name %q is used twice in the stack", inst.Name)
		}
		names[inst.Name] = true
		ps = append(ps, ValidateEffective(prefix, inst.Effective)...)
	}
	for _, inst := range s.Instances {
		for _, d := range inst.Effective.DependsOn.Value {
			if !names[d.Name] {
				ps.add("instances."+inst.Name+".depends_on", "depends on %q, which is not an instance of stack %q", d.Name, s.Name)
			}
		}
		for _, refs := range []struct {
			key  string
			list []string
		}{{"links", inst.Effective.Options.Links}, {"volumes_from", inst.Effective.Options.VolumesFrom}} {
			for _, ref := range refs.list {
				if target := ServiceRef(ref); target != "" && !names[target] {
					ps.add("instances."+inst.Name+"."+refs.key, "%q names %q, which is not an instance of stack %q", ref, target, s.Name)
				}
			}
		}
	}
	ps = append(ps, hostPortClashes(s)...)
	ps = append(ps, networkModeRefs(s, names)...)
	return ps.err()
}

// ServiceRef returns the instance a links or volumes_from entry names
// ("db", "db:alias", "db:ro"), or "" for a volumes_from entry naming a
// container ("container:name").
func ServiceRef(ref string) string {
	if strings.HasPrefix(ref, "container:") {
		return ""
	}
	name, _, _ := strings.Cut(ref, ":")
	return name
}

// hostPortClashes reports host ports that two enabled instances (or one
// instance twice) publish on overlapping addresses.
func hostPortClashes(s Stack) []Problem {
	type key struct {
		port  uint16
		proto string
	}
	type owner struct{ inst, ip string }
	seen := map[key][]owner{}
	var ps problems
	for _, inst := range s.Instances {
		if !inst.Enabled {
			continue
		}
		for _, p := range inst.Effective.Ports.Value {
			if p.HostPort == 0 {
				continue
			}
			k := key{p.HostPort, cmp.Or(p.Protocol, "tcp")}
			for _, o := range seen[k] {
				if o.ip == p.HostIP || o.ip == "" || p.HostIP == "" || o.ip == "0.0.0.0" || p.HostIP == "0.0.0.0" {
					ps.add("instances."+inst.Name+".ports", "host port %d/%s is already published by instance %q; pick another host port", p.HostPort, k.proto, o.inst)
				}
			}
			seen[k] = append(seen[k], owner{inst.Name, p.HostIP})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Field < ps[j].Field })
	return ps
}
