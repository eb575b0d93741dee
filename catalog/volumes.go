package catalog

import (
	"fmt"
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// volumes maps mounts. Bind sources are kept exactly as written in the file
// (compose-go is told not to resolve paths): "../../../apps" stays relative
// and is resolved by deploy under its workspace directory. A named volume's
// source is its key in the file ("postgres_data"), not compose's
// project-prefixed name. A mount whose target is also a config file's target
// is dropped: the config file takes its place (devarch shipped config files
// through such volumes).
func (m *mapper) volumes(in []types.ServiceVolumeConfig, configs []spec.ConfigFile) []spec.Volume {
	configTargets := map[string]string{}
	for _, c := range configs {
		configTargets[c.Target] = c.Path
	}
	out := make([]spec.Volume, 0, len(in))
	for i, v := range in {
		key := fmt.Sprintf("volumes[%d]", i)
		switch v.Type {
		case types.VolumeTypeBind, types.VolumeTypeVolume, types.VolumeTypeTmpfs:
		default:
			m.ignore(key, "volume type %q is not supported; the mount of %s is left out", v.Type, v.Target)
			continue
		}
		if !path.IsAbs(v.Target) {
			m.fail(key, "target %q must be an absolute container path", v.Target)
			continue
		}
		if cfg, ok := configTargets[v.Target]; ok {
			m.warn(key, "mount of %s is left out because config file %q is mounted at the same path", v.Target, cfg)
			continue
		}
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(v.Source, "~") {
			m.warn(key, "bind source %q is kept as written: the controller does not expand ~; use a path relative to the workspace or an absolute path", v.Source)
		}
		m.mountOptions(key, v)
		out = append(out, spec.Volume{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
	}
	return out
}

// mountOptions warns about per-mount options the controller drops.
func (m *mapper) mountOptions(key string, v types.ServiceVolumeConfig) {
	var dropped []string
	if v.Consistency != "" {
		dropped = append(dropped, "consistency")
	}
	if v.Bind != nil {
		for _, k := range setKeys(v.Bind) {
			if k != "create_host_path" {
				dropped = append(dropped, "bind."+k)
			}
		}
	}
	if v.Volume != nil {
		for _, k := range setKeys(v.Volume) {
			dropped = append(dropped, "volume."+k)
		}
	}
	if v.Tmpfs != nil {
		for _, k := range setKeys(v.Tmpfs) {
			dropped = append(dropped, "tmpfs."+k)
		}
	}
	if len(dropped) > 0 {
		m.ignore(key, "mount options %s are not supported and are ignored", strings.Join(dropped, ", "))
	}
}
