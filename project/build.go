package project

import (
	"fmt"
	"maps"
	"sort"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// Options are the installation's settings a project is built with: where
// host-side files live and the keys that digest secrets in labels. Both
// are part of what compose hashes, so plan and apply must use the same
// Options (state.Store.Installation reads them).
type Options struct {
	// StateDir holds materialized config files (see ConfigPath).
	StateDir string
	// WorkspaceDir anchors relative bind mount sources (see BindSource).
	WorkspaceDir string
	// Keys are the installation keys. The current key makes every digest
	// of a secret env value or config file content in the devarch.spec and
	// devarch.config_digest labels; retired keys let a plan tell a digest
	// made before a key rotation from a changed value.
	Keys keyring.Ring
	// Builds are the build contexts of the stack's instances that build
	// their image, by instance id, read when the plan is made (see
	// deploy.BuildContexts). Not an installation setting: the caller
	// fills it per stack; a building instance missing from it cannot be
	// applied.
	Builds map[int64]BuildContext
}

// Project is a stack's compose project plus what Build noticed on the way.
type Project struct {
	*types.Project
	// Warnings are things Build dropped or adjusted, one sentence each.
	Warnings []string
}

// NetworkKey is the compose key of a stack's network in its project.
const NetworkKey = "default"

// Build returns the compose project of a stack: one service per enabled
// instance (a disabled stack has none), joined to the stack's external
// network and the other networks it names (see Networks), with devarch
// labels. Every network is external to compose: the stack's own ones must
// exist before compose up (apply ensures them); config files must be
// materialized at ConfigPath.
func Build(s spec.Stack, o Options) (*Project, error) {
	name := spec.ProjectName(s.Name)
	p := &Project{Project: &types.Project{
		Name:       name,
		WorkingDir: ConfigDir(o.StateDir, s.Name),
		Services:   types.Services{},
		Networks: types.Networks{
			NetworkKey: {Name: s.Network(), External: true},
		},
		Volumes: types.Volumes{},
	}}
	enabled := enabledInstances(s)
	for _, inst := range s.Instances {
		if !enabled[inst.Name] {
			continue
		}
		svc, warnings, err := buildService(s, inst, o, enabled)
		if err != nil {
			return nil, fmt.Errorf("build service %q: %w", inst.Name, err)
		}
		p.Warnings = append(p.Warnings, warnings...)
		projectFiles(p.Project, s, inst, o)
		p.Services[inst.Name] = svc
	}
	p.Volumes = Volumes(s)
	nets, warnings := Networks(s)
	p.Warnings = append(p.Warnings, warnings...)
	for _, n := range nets {
		p.Networks[n.Key] = types.NetworkConfig{Name: n.Name, External: true}
	}
	return p, nil
}

// Volumes returns the named volumes of a stack's project, by compose key
// (the volume source in the instances' specs), as Build declares them:
// every named volume of an enabled instance, called
// "<project>_<key>" on the engine, with devarch labels.
func Volumes(s spec.Stack) types.Volumes {
	name := spec.ProjectName(s.Name)
	vols := types.Volumes{}
	enabled := enabledInstances(s)
	for _, inst := range s.Instances {
		if !enabled[inst.Name] {
			continue
		}
		for _, v := range inst.Effective.Volumes.Value {
			if _, done := vols[v.Source]; !done && v.Type == spec.VolumeTypeVolume && v.Source != "" {
				vols[v.Source] = volumeConfig(name, v.Source, volumeDef(inst, v.Source), types.Labels{
					spec.LabelManagedBy: spec.ManagedByValue,
					spec.LabelStackID:   strconv.FormatInt(s.ID, 10),
					spec.LabelStack:     s.Name,
				})
			}
		}
	}
	return vols
}

// VolumeLabels are the compose labels compose up adds to a volume of
// project projectName under key before it creates it (compose's
// prepareVolumes), on top of the volume's own labels.
func VolumeLabels(projectName, key string) map[string]string {
	return map[string]string{api.VolumeLabel: key, api.ProjectLabel: projectName, api.VersionLabel: api.ComposeVersion}
}

// VolumeHash returns the com.docker.compose.config-hash compose records
// on the volume it creates for key in project projectName: compose's own
// hash of the volume's configuration with the labels of VolumeLabels. A
// live volume of the project whose label differs is one compose would
// offer to recreate (losing its data).
func VolumeHash(projectName, key string, v types.VolumeConfig) (string, error) {
	v.CustomLabels = maps.Clone(v.CustomLabels)
	for k, val := range VolumeLabels(projectName, key) {
		v.CustomLabels = v.CustomLabels.Add(k, val)
	}
	h, err := compose.VolumeHash(v)
	if err != nil {
		return "", fmt.Errorf("hash volume %q: %w", v.Name, err)
	}
	return h, nil
}

// Service builds the compose service of one enabled instance of a stack,
// exactly as Build does.
func Service(s spec.Stack, inst spec.Instance, o Options) (types.ServiceConfig, []string, error) {
	return buildService(s, inst, o, enabledInstances(s))
}

// IgnoredDependency is the warning for a dependency on an instance that is
// disabled or missing: compose is not told about it.
func IgnoredDependency(instance, dependency string) string {
	return fmt.Sprintf("Instance %q depends on %q, which is disabled or missing; the dependency is ignored.", instance, dependency)
}

func enabledInstances(s spec.Stack) map[string]bool {
	enabled := map[string]bool{}
	for _, inst := range s.Instances {
		if s.Enabled && inst.Enabled {
			enabled[inst.Name] = true
		}
	}
	return enabled
}

// buildService builds one instance's compose service.
func buildService(s spec.Stack, inst spec.Instance, o Options, enabled map[string]bool) (types.ServiceConfig, []string, error) {
	e := inst.Effective
	if err := CheckService(inst, o); err != nil {
		return types.ServiceConfig{}, nil, err
	}
	var svc types.ServiceConfig
	svc.Name = inst.Name
	svc.ContainerName = spec.ContainerName(s.Name, inst.Name)
	svc.Image = Image(s, inst)
	svc.WorkingDir = e.WorkingDir.Value
	svc.User = e.User.Value
	svc.Privileged = e.Privileged.Value
	svc.Restart = e.Restart.Value
	svc.Environment = types.MappingWithEquals{}
	svc.Networks = map[string]*types.ServiceNetworkConfig{NetworkKey: nil}
	svc.Labels = types.Labels{}
	svc.CustomLabels = types.Labels{
		api.ProjectLabel:     spec.ProjectName(s.Name),
		api.ServiceLabel:     inst.Name,
		api.VersionLabel:     api.ComposeVersion,
		api.WorkingDirLabel:  ConfigDir(o.StateDir, s.Name),
		api.ConfigFilesLabel: "",
		api.OneoffLabel:      "False",
	}
	if len(e.Command.Value) > 0 {
		svc.Command = types.ShellCommand(e.Command.Value)
	}
	if len(e.Entrypoint.Value) > 0 {
		svc.Entrypoint = types.ShellCommand(e.Entrypoint.Value)
	}
	if len(e.CapAdd.Value) > 0 {
		svc.CapAdd = append([]string(nil), e.CapAdd.Value...)
	}
	for _, v := range e.Env {
		val := v.Value
		svc.Environment[v.Key] = &val
	}
	for _, p := range e.Ports.Value {
		port := types.ServicePortConfig{Mode: "ingress", HostIP: p.HostIP, Target: uint32(p.ContainerPort), Protocol: p.Protocol}
		if p.HostPort != 0 {
			port.Published = strconv.Itoa(int(p.HostPort))
		}
		svc.Ports = append(svc.Ports, port)
	}
	svc.Volumes = volumes(s, inst, o)
	svc.HealthCheck = healthcheck(e.Healthcheck.Value)
	ApplyOptions(&svc, e.Options)
	serviceFiles(&svc, inst)
	var warnings []string
	svc.Links = keepEnabled(svc.Links, inst.Name, "links", enabled, &warnings)
	svc.VolumesFrom = keepEnabled(svc.VolumesFrom, inst.Name, "volumes_from", enabled, &warnings)
	netWarnings, err := serviceNetworks(&svc, inst, enabled)
	if err != nil {
		return types.ServiceConfig{}, nil, err
	}
	warnings = append(warnings, netWarnings...)
	for _, d := range e.DependsOn.Value {
		if !enabled[d.Name] {
			warnings = append(warnings, IgnoredDependency(inst.Name, d.Name))
			continue
		}
		if svc.DependsOn == nil {
			svc.DependsOn = types.DependsOnConfig{}
		}
		svc.DependsOn[d.Name] = types.ServiceDependency{Condition: d.Condition, Required: true}
	}
	for _, l := range e.Labels {
		svc.Labels[l.Key] = l.Value
	}
	for k, v := range spec.IdentityLabels(s, inst) {
		svc.Labels[k] = v
	}
	if t := inst.TemplateName(); t != "" {
		svc.Labels[spec.LabelTemplate] = t
	}
	if len(e.ConfigFiles) > 0 {
		svc.Labels[spec.LabelConfigDigest] = ConfigDigest(o.Keys.Current, e.ConfigFiles)
	}
	svc.Labels[spec.LabelSpec] = NewRecord(s, inst, o).Encode()
	return svc, warnings, nil
}

// keepEnabled drops the links or volumes_from entries that name an
// instance that is disabled or missing, with a warning: compose refuses
// a service that refers to one it does not know.
func keepEnabled(refs []string, instance, key string, enabled map[string]bool, warnings *[]string) []string {
	var out []string
	for _, ref := range refs {
		if target := spec.ServiceRef(ref); target != "" && !enabled[target] {
			*warnings = append(*warnings, fmt.Sprintf("Instance %q has %s %q, but %q is disabled or missing; the entry is ignored.", instance, key, ref, target))
			continue
		}
		out = append(out, ref)
	}
	return out
}

// CheckService returns why an enabled instance's compose service cannot be
// built, or nil: what Service refuses (no image and no build section, a
// build context that cannot be read, a template its stack's variables do
// not resolve).
func CheckService(inst spec.Instance, o Options) error {
	if inst.Problem != "" {
		return fmt.Errorf("instance %q: %s", inst.Name, inst.Problem)
	}
	e := inst.Effective
	if e.Image.Value == "" && e.Build.Value == nil {
		return fmt.Errorf("instance %q has no image: its template %q defines neither an image nor a build section; set an image on the instance", inst.Name, inst.TemplateName())
	}
	if _, err := InstanceBuildDigest(inst, o); err != nil {
		return err
	}
	return nil
}

func volumes(s spec.Stack, inst spec.Instance, o Options) []types.ServiceVolumeConfig {
	var out []types.ServiceVolumeConfig
	var category string
	if inst.Template != nil {
		category = inst.Template.Category
	}
	for _, v := range inst.Effective.Volumes.Value {
		vol := types.ServiceVolumeConfig{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case spec.VolumeTypeBind:
			vol.Source = BindSource(o.WorkspaceDir, category, inst.TemplateName(), s.Name, inst.Name, v.Source)
			vol.Bind = &types.ServiceVolumeBind{CreateHostPath: true}
		case spec.VolumeTypeVolume:
			vol.Volume = &types.ServiceVolumeVolume{}
		}
		out = append(out, vol)
	}
	for _, c := range inst.Effective.ConfigFiles {
		out = append(out, types.ServiceVolumeConfig{
			Type:     types.VolumeTypeBind,
			Source:   ConfigPath(o.StateDir, s.Name, inst.Name, c.Path),
			Target:   c.Target,
			ReadOnly: true,
			Bind:     &types.ServiceVolumeBind{CreateHostPath: false},
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

func healthcheck(h *spec.Healthcheck) *types.HealthCheckConfig {
	if h == nil {
		return nil
	}
	hc := &types.HealthCheckConfig{Test: types.HealthCheckTest(append([]string(nil), h.Test...)), Disable: h.Disable}
	dur := func(d spec.Duration) *types.Duration {
		if d == 0 {
			return nil
		}
		v := types.Duration(d)
		return &v
	}
	hc.Interval = dur(h.Interval)
	hc.Timeout = dur(h.Timeout)
	hc.StartPeriod = dur(h.StartPeriod)
	if h.Retries > 0 {
		r := uint64(h.Retries)
		hc.Retries = &r
	}
	return hc
}

// ServiceHash is compose's configuration hash of a service, the value
// compose stores in com.docker.compose.config-hash and compares to decide
// whether to recreate a container.
func ServiceHash(svc types.ServiceConfig) (string, error) {
	return compose.ServiceHash(svc)
}

// ServiceHashes returns compose's configuration hash of every service of
// the project, keyed by service (instance) name.
func (p *Project) ServiceHashes() (map[string]string, error) {
	out := make(map[string]string, len(p.Services))
	for name, svc := range p.Services {
		h, err := ServiceHash(svc)
		if err != nil {
			return nil, fmt.Errorf("hash service %q: %w", name, err)
		}
		out[name] = h
	}
	return out, nil
}
