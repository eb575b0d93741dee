package stackfile

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// MaxConfigFileSize bounds one config file's content.
const MaxConfigFileSize = 1 << 20

// configFiles pairs config_files with config_mounts: a mount sets the
// container path (Target) of the config file named by its config_file_path.
// Every config file needs exactly one mount, since a file without a target
// could not be mounted; a mount naming no config file is an error too.
// source_path, devarch's host path for the file, is not used: the
// controller writes config files under its own state directory.
func (b *builder) configFiles(prefix string, files map[string]configFileDoc, mounts []configMountDoc) []spec.ConfigFile {
	targets := b.configMounts(prefix, files, mounts)
	out := make([]spec.ConfigFile, 0, len(files))
	for _, p := range slices.Sorted(maps.Keys(files)) {
		field := prefix + ".config_files." + p
		f := files[p]
		ok := true
		if err := spec.ValidateConfigPath(p); err != nil {
			b.fail(field, "%v", err)
			ok = false
		}
		mode, err := fileMode(f.FileMode)
		if err != nil {
			b.fail(field+".file_mode", "%v", err)
			ok = false
		}
		if len(f.Content) > MaxConfigFileSize {
			b.fail(field+".content", "the content is larger than 1 MiB; keep large files in a volume instead")
			ok = false
		}
		target, mounted := targets[p]
		if !mounted {
			b.fail(field, "config file %q has no config_mounts entry, so it could not be mounted; add a mount with config_file_path: %s and the target_path it belongs at", p, p)
			ok = false
		}
		if !ok {
			continue
		}
		b.literalSecretRef(field+".content", f.Content)
		out = append(out, spec.ConfigFile{Path: p, Target: target, Content: f.Content, Mode: mode})
	}
	return out
}

// configMounts validates the mounts and returns the target of each config
// file.
func (b *builder) configMounts(prefix string, files map[string]configFileDoc, mounts []configMountDoc) map[string]string {
	targets := map[string]string{} // config file path -> target
	owners := map[string]string{}  // target -> config file path
	for i, m := range mounts {
		field := fmt.Sprintf("%s.config_mounts[%d]", prefix, i)
		p, target := m.ConfigFilePath, m.TargetPath
		switch _, exists := files[p]; {
		case p == "":
			b.fail(field, "config_file_path is missing; name the entry of config_files this mount places")
			continue
		case !exists:
			b.fail(field, "config_file_path %q names no entry of config_files; add the config file or fix the path", p)
			continue
		}
		if prev, dup := targets[p]; dup {
			b.fail(field, "config file %q is already mounted at %s; a config file has one target", p, prev)
			continue
		}
		switch other, taken := owners[target]; {
		case !path.IsAbs(target):
			b.fail(field, "target_path %q must be an absolute container path", target)
			continue
		case taken:
			b.fail(field, "target_path %s is also the target of config file %q; each config file needs its own target", target, other)
			continue
		}
		targets[p] = target
		owners[target] = p
	}
	return targets
}

// fileMode parses an octal permission such as "0644"; empty means 0644.
func fileMode(s string) (uint32, error) {
	if s == "" {
		return spec.DefaultFileMode, nil
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	m, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("file_mode %q is not an octal permission such as \"0644\"", s)
	}
	return uint32(m), nil
}
