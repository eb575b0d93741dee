package stackfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// The written form of a stack and its instances (see Export). The yaml
// structs below are the file's fields; their order is the order in the
// file.

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
	Engine      string `yaml:"engine,omitempty"`
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
		Stack:     exportStack{Name: s.Name, Description: s.Description, NetworkName: s.NetworkName, Engine: s.Engine},
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
