package spec

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FileMount is a compose secret or config of a service: a file whose
// content is stored with the template or instance, written by apply under
// the state directory with Mode and UID/GID, and bind-mounted read-only at
// Target. Name is its key under the compose file's top-level secrets: or
// configs:. The content of a secret is never shown (see Effective.Redacted).
type FileMount struct {
	Name    string `json:"name"`
	Target  string `json:"target"`
	Content string `json:"content"`
	Mode    uint32 `json:"mode,omitempty"`
	UID     string `json:"uid,omitempty"`
	GID     string `json:"gid,omitempty"`
	// From says where the content was read at import, as the user wrote
	// it: "file ./db_password.txt", "environment DB_PASSWORD", "content".
	From   string `json:"from,omitempty"`
	Source Source `json:"source,omitempty"`
}

// Default modes of secrets and configs, as compose gives them.
const (
	DefaultSecretMode = 0o444
	DefaultConfigMode = 0o444
)

// Where compose mounts secrets and configs whose target is not absolute.
const (
	SecretsDir = "/run/secrets/"
	ConfigsDir = "/"
)

// FileMode returns the mount's mode, defaulting to def.
func (f FileMount) FileMode(def uint32) uint32 {
	if f.Mode == 0 {
		return def
	}
	return f.Mode
}

// MountTarget returns where compose mounts a secret (dir SecretsDir) or a
// config (dir ConfigsDir) called name with target as written: the name
// under dir when target is empty, target under dir when it is relative.
func MountTarget(dir, name, target string) string {
	switch {
	case target == "":
		return dir + name
	case strings.HasPrefix(target, "/"):
		return target
	default:
		return dir + target
	}
}

// fileMountName is the form of a secret or config name: what compose
// accepts as a top-level key and a file name under the state directory.
var fileMountName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateFileMount checks one secret or config: its name (also a file
// name on the host), an absolute clean target, a mode within 0777 and
// numeric uid/gid (names cannot be resolved on the host).
func ValidateFileMount(f FileMount) error {
	switch {
	case !fileMountName.MatchString(f.Name) || len(f.Name) > 255:
		return fmt.Errorf("name %q is invalid; use letters, digits, '_', '.' and '-', starting with a letter or digit", f.Name)
	case !path.IsAbs(f.Target) || path.Clean(f.Target) != f.Target || f.Target == "/":
		return fmt.Errorf("target %q must be a clean absolute container path of a file", f.Target)
	case f.Mode&^0o777 != 0:
		return fmt.Errorf("mode %#o has bits outside 0777", f.Mode)
	}
	for _, id := range []struct{ key, v string }{{"uid", f.UID}, {"gid", f.GID}} {
		if id.v == "" {
			continue
		}
		if n, err := strconv.ParseUint(id.v, 10, 32); err != nil || n > 1<<31-1 {
			return fmt.Errorf("%s %q must be a number such as 1000", id.key, id.v)
		}
	}
	return nil
}

// VolumeDef is a top-level compose volume declaration a service uses:
// Key is the volume's key in the file (the Source of the service's
// mounts). External volumes are used as Name (Key when empty) and never
// created or removed by the controller; others are created as Name (the
// project-prefixed "<project>_<key>" when empty) with Driver, DriverOpts
// and Labels.
type VolumeDef struct {
	Key        string            `json:"key"`
	Name       string            `json:"name,omitempty"`
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	External   bool              `json:"external,omitempty"`
	Source     Source            `json:"source,omitempty"`
}

// EnvFileSource is how a variable read from an env file shows its
// provenance in plans and views: "env_file .env".
func (e EnvVar) EnvFileSource() string {
	if e.File == "" {
		return ""
	}
	return "env_file " + e.File
}

// canonicalFiles sorts secrets and configs by name and volume definitions
// by key.
func canonicalFiles(s *ServiceSpec) {
	s.Secrets = slices.Clone(s.Secrets)
	slices.SortStableFunc(s.Secrets, func(a, b FileMount) int { return cmp.Compare(a.Name, b.Name) })
	s.Configs = slices.Clone(s.Configs)
	slices.SortStableFunc(s.Configs, func(a, b FileMount) int { return cmp.Compare(a.Name, b.Name) })
	s.VolumeDefs = slices.Clone(s.VolumeDefs)
	slices.SortStableFunc(s.VolumeDefs, func(a, b VolumeDef) int { return cmp.Compare(a.Key, b.Key) })
}

// mergeFiles merges secrets, configs (by name) and volume definitions (by
// key), the override winning, and sets their default modes.
func (e *Effective) mergeFiles(t, u ServiceSpec) {
	e.Secrets = nonNil(mergeKeyed(t.Secrets, u.Secrets, func(v FileMount) string { return v.Name }, func(v *FileMount, s Source) { v.Source = s }))
	e.Configs = nonNil(mergeKeyed(t.Configs, u.Configs, func(v FileMount) string { return v.Name }, func(v *FileMount, s Source) { v.Source = s }))
	e.VolumeDefs = nonNil(mergeKeyed(t.VolumeDefs, u.VolumeDefs, func(v VolumeDef) string { return v.Key }, func(v *VolumeDef, s Source) { v.Source = s }))
	for i := range e.Secrets {
		e.Secrets[i].Mode = e.Secrets[i].FileMode(DefaultSecretMode)
	}
	for i := range e.Configs {
		e.Configs[i].Mode = e.Configs[i].FileMode(DefaultConfigMode)
	}
}

// redactFiles hides secret contents.
func (e *Effective) redactFiles() {
	e.Secrets = slices.Clone(e.Secrets)
	for i := range e.Secrets {
		e.Secrets[i].Content = RedactedValue
	}
}

// secretFileValues returns the contents of an instance's secrets worth
// scrubbing: each whole, and without surrounding white space (a secret
// file usually ends with a newline the value it holds does not have).
func secretFileValues(e Effective) []string {
	var out []string
	for _, s := range e.Secrets {
		for _, v := range []string{s.Content, strings.TrimSpace(s.Content)} {
			if len(v) >= MinScrubLength && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// validateFiles checks the effective secrets and configs: each valid, no
// two mounted at one target.
func validateFiles(ps *problems, prefix string, e Effective) {
	targets := map[string]string{}
	for _, c := range e.ConfigFiles {
		targets[c.Target] = "config file " + c.Path
	}
	for _, v := range e.Volumes.Value {
		targets[v.Target] = "volume " + v.String()
	}
	for _, group := range []struct {
		kind  string
		files []FileMount
	}{{"secrets", e.Secrets}, {"configs", e.Configs}} {
		for _, f := range group.files {
			field := prefix + "." + group.kind + "." + f.Name
			if err := ValidateFileMount(f); err != nil {
				ps.addErr(field, err)
				continue
			}
			if other, dup := targets[f.Target]; dup {
				ps.add(field, "target %q is also the target of %s; each mount needs its own target", f.Target, other)
			}
			targets[f.Target] = group.kind + "." + f.Name
		}
	}
}
