package catalog

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// mapper turns one compose service into a spec.ServiceSpec, collecting
// warnings and problems keyed by compose path ("services.<name>.<key>").
type mapper struct {
	file     string
	service  string
	warnings []Warning
	problems []spec.Problem
	// references are the file's variable references, for its catalog
	// copy: problems at their keys are left to Resolve (see err).
	references []reference
	// resolving is set by Resolve: config files are storedConfigs, read
	// at catalog import.
	resolving     bool
	storedConfigs []spec.ConfigFile
}

func (m *mapper) key(sub string) string {
	if sub == "" {
		return "services." + m.service
	}
	return "services." + m.service + "." + sub
}

func (m *mapper) warn(sub, format string, args ...any) {
	m.warnings = append(m.warnings, Warning{File: m.file, Key: m.key(sub), Message: fmt.Sprintf(format, args...)})
}

// ignore warns about a key whose value is not applied.
func (m *mapper) ignore(sub, format string, args ...any) {
	m.warnings = append(m.warnings, Warning{File: m.file, Key: m.key(sub), Message: fmt.Sprintf(format, args...), Ignored: true})
}

func (m *mapper) fail(sub, format string, args ...any) {
	m.problems = append(m.problems, spec.Problem{Field: m.key(sub), Message: fmt.Sprintf(format, args...)})
}

// err returns every problem found, or nil.
func (m *mapper) err() error {
	m.problems = m.withoutReferenced(m.problems)
	if len(m.problems) == 0 {
		return nil
	}
	return &spec.ValidationError{Problems: m.problems}
}

// serviceSpec maps every field the controller honours and warns about the
// rest. dir is the template's folder.
func (m *mapper) serviceSpec(svc types.ServiceConfig, dir string) spec.ServiceSpec {
	s := spec.ServiceSpec{
		Image:      svc.Image,
		Command:    slices.Clone([]string(svc.Command)),
		Entrypoint: slices.Clone([]string(svc.Entrypoint)),
		WorkingDir: svc.WorkingDir,
		User:       svc.User,
		Privileged: svc.Privileged,
		CapAdd:     slices.Clone(svc.CapAdd),
		Restart:    svc.Restart,
	}
	if s.Image != "" {
		if err := spec.ValidateImageRef(s.Image); err != nil {
			m.fail("image", "%v", err)
		}
	}
	s.Build = m.build(svc, dir)
	s.Env = m.env(svc.Environment)
	s.Labels = m.labels(svc.Labels)
	s.Ports = m.ports(svc.Ports)
	s.ConfigFiles = m.configFiles(svc.Extensions, dir)
	s.Volumes = m.volumes(svc.Volumes, s.ConfigFiles)
	s.Healthcheck = m.healthcheck(svc.HealthCheck)
	s.DependsOn = m.dependsOn(svc.DependsOn)
	s.Options = m.options(svc, &s.Restart)
	m.extensions(svc.Extensions)
	m.unsupported(svc)
	return s.Canonical()
}

func (m *mapper) build(svc types.ServiceConfig, dir string) *spec.Build {
	b, ignored, problems := BuildSpec(svc.Build, dir)
	for _, k := range sortedKeys(ignored) {
		m.ignore(k, "%s", ignored[k])
	}
	for _, k := range sortedKeys(problems) {
		m.fail(k, "%s", problems[k])
	}
	return b
}

func (m *mapper) env(in types.MappingWithEquals) []spec.EnvVar {
	out := make([]spec.EnvVar, 0, len(in))
	for _, k := range sortedKeys(in) {
		if err := spec.ValidateEnvKey(k); err != nil {
			m.fail("environment."+k, "%v", err)
			continue
		}
		v := in[k]
		if v == nil {
			m.warn("environment."+k, "has no value: compose would copy it from the shell that runs compose, the controller leaves it out; give it a value in the template or the instance")
			continue
		}
		out = append(out, spec.EnvVar{Key: k, Value: *v, Secret: spec.IsSecretName(k)})
	}
	return out
}

func (m *mapper) labels(in types.Labels) []spec.Label {
	out := make([]spec.Label, 0, len(in))
	for _, k := range sortedKeys(in) {
		if strings.HasPrefix(k, spec.LabelPrefix) || strings.HasPrefix(k, "com.docker.compose.") {
			m.fail("labels."+k, "label %q is reserved for the controller; choose another key", k)
			continue
		}
		out = append(out, spec.Label{Key: k, Value: in[k]})
	}
	return out
}

func (m *mapper) healthcheck(h *types.HealthCheckConfig) *spec.Healthcheck {
	if h == nil {
		return nil
	}
	out := &spec.Healthcheck{Test: slices.Clone([]string(h.Test)), Disable: h.Disable}
	if len(out.Test) > 0 {
		switch out.Test[0] {
		case "CMD", "CMD-SHELL", "NONE":
		default:
			m.fail("healthcheck.test", "test must start with CMD, CMD-SHELL or NONE")
		}
	}
	for _, d := range []struct {
		name string
		in   *types.Duration
		out  *spec.Duration
	}{
		{"interval", h.Interval, &out.Interval},
		{"timeout", h.Timeout, &out.Timeout},
		{"start_period", h.StartPeriod, &out.StartPeriod},
	} {
		if d.in == nil {
			continue
		}
		if *d.in < 0 {
			m.fail("healthcheck."+d.name, "duration %s is negative", d.in)
			continue
		}
		*d.out = spec.Duration(*d.in)
	}
	if h.Retries != nil {
		if *h.Retries > math.MaxInt32 {
			m.fail("healthcheck.retries", "retries %d is too large", *h.Retries)
		} else {
			out.Retries = int(*h.Retries)
		}
	}
	if h.StartInterval != nil {
		m.ignore("healthcheck.start_interval", "is not supported yet and is ignored; the engine's default applies")
	}
	return out
}

func (m *mapper) dependsOn(in types.DependsOnConfig) []spec.Dependency {
	out := make([]spec.Dependency, 0, len(in))
	for _, name := range sortedKeys(in) {
		d := in[name]
		cond := d.Condition
		switch cond {
		case "":
			cond = spec.ConditionStarted
		case spec.ConditionStarted, spec.ConditionHealthy, spec.ConditionCompleted:
		default:
			m.fail("depends_on."+name, "condition %q is not one of %s, %s, %s", cond, spec.ConditionStarted, spec.ConditionHealthy, spec.ConditionCompleted)
			continue
		}
		if d.Restart {
			m.ignore("depends_on."+name+".restart", "is not supported yet and is ignored: the container is not restarted when %q restarts", name)
		}
		if !d.Required {
			m.warn("depends_on."+name+".required", "optional dependencies are not supported yet: the dependency is treated as required")
		}
		out = append(out, spec.Dependency{Name: name, Condition: cond})
	}
	return out
}

func (m *mapper) extensions(ext types.Extensions) {
	for _, k := range sortedKeys(ext) {
		if k != configExtension {
			m.ignore(k, "extension %s is not used by the controller and is ignored", k)
		}
	}
}
