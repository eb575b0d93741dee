package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// FileSources say how ServiceFiles reads what a service's files refer to.
type FileSources struct {
	// Dir anchors relative paths: the template's folder, or the folder of
	// the stack file.
	Dir string
	// Secret looks up the value of a secret or config declared with
	// environment: NAME. Nil: such declarations are refused, with what to
	// do instead (templates are imported without an environment).
	Secret func(name string) (string, bool)
	// SecretEnvFiles are env files (as written) whose variables are all
	// secret.
	SecretEnvFiles []string
	// Environment, when not nil, is the service's environment (which wins
	// over env files and resolves ${VAR} in them) instead of the one
	// compose-go read.
	Environment map[string]string
}

// Files is what a service's env_file, secrets, configs and the top-level
// volume declarations become.
type Files struct {
	Env        []spec.EnvVar
	Secrets    []spec.FileMount
	Configs    []spec.FileMount
	VolumeDefs []spec.VolumeDef
	// Notes say what was skipped (optional env files that do not exist);
	// Skipped are those files, as written.
	Notes   []string
	Skipped []string
}

// ServiceFiles reads, at import, what `docker compose up` reads at start:
// the service's env files (merged under environment, which wins), the
// contents of its secrets and configs, and the project's volume
// declarations. prefix names fields in problems ("services.api").
func ServiceFiles(prefix string, svc types.ServiceConfig, p *types.Project, src FileSources) (Files, []spec.Problem) {
	var out Files
	var problems []spec.Problem
	fail := func(field, format string, args ...any) {
		problems = append(problems, spec.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	env := src.Environment
	if env == nil {
		env = map[string]string{}
		for k, v := range svc.Environment {
			if v != nil {
				env[k] = *v
			}
		}
	}
	if len(svc.EnvFiles) > 0 {
		refs := make([]EnvFile, len(svc.EnvFiles))
		for i, f := range svc.EnvFiles {
			refs[i] = EnvFile{Path: f.Path, Required: bool(f.Required), Format: f.Format, Secret: slices.Contains(src.SecretEnvFiles, f.Path)}
		}
		res, err := ReadEnvFiles(src.Dir, refs, env)
		if err != nil {
			fail(prefix+".env_file", "%v; create the file, fix it, or mark the entry required: false", err)
		}
		out.Env = res.Env
		out.Skipped = res.Skipped
		for _, s := range res.Skipped {
			out.Notes = append(out.Notes, EnvFileNote(s))
		}
	}
	secretDefs := map[string]types.FileObjectConfig{}
	for k, v := range p.Secrets {
		secretDefs[k] = types.FileObjectConfig(v)
	}
	configDefs := map[string]types.FileObjectConfig{}
	for k, v := range p.Configs {
		configDefs[k] = types.FileObjectConfig(v)
	}
	secretRefs := make([]types.FileReferenceConfig, len(svc.Secrets))
	for i, r := range svc.Secrets {
		secretRefs[i] = types.FileReferenceConfig(r)
	}
	configRefs := make([]types.FileReferenceConfig, len(svc.Configs))
	for i, r := range svc.Configs {
		configRefs[i] = types.FileReferenceConfig(r)
	}
	out.Secrets = fileMounts(prefix, "secrets", secretRefs, secretDefs, spec.SecretsDir, src, fail)
	out.Configs = fileMounts(prefix, "configs", configRefs, configDefs, spec.ConfigsDir, src, fail)
	out.VolumeDefs = volumeDefs(p)
	return out, problems
}

// fileMounts reads the secrets (kind "secrets") or configs a service
// refers to.
func fileMounts(prefix, kind string, refs []types.FileReferenceConfig, defs map[string]types.FileObjectConfig, dir string, src FileSources,
	fail func(field, format string, args ...any)) []spec.FileMount {
	out := make([]spec.FileMount, 0, len(refs))
	seen := map[string]bool{}
	one := strings.TrimSuffix(kind, "s")
	for _, r := range refs {
		field := prefix + "." + kind + "." + r.Source
		def, ok := defs[r.Source]
		switch {
		case !ok:
			fail(field, "%s %q is not declared under the top-level %s:; declare it with file:, environment: or content:", one, r.Source, kind)
			continue
		case seen[r.Source]:
			fail(field, "%s %q is mounted twice; mount it once", one, r.Source)
			continue
		case bool(def.External):
			fail(field, "%s %q is external, which only Swarm provides (compose up refuses it too); declare it with file: or environment:", one, r.Source)
			continue
		case def.Driver != "" || def.TemplateDriver != "":
			fail(field, "%s %q sets driver or template_driver, which compose up does not support; remove them", one, r.Source)
			continue
		}
		seen[r.Source] = true
		content, from, err := fileContent(one, r.Source, def, src)
		if err != nil {
			fail(kind+"."+r.Source, "%v", err)
			continue
		}
		m := spec.FileMount{Name: r.Source, Target: spec.MountTarget(dir, r.Source, r.Target), Content: content, UID: r.UID, GID: r.GID, From: from}
		if r.Mode != nil {
			m.Mode = uint32(*r.Mode)
		}
		if err := spec.ValidateFileMount(m); err != nil {
			fail(field, "%v", err)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b spec.FileMount) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// fileContent reads a secret's or config's content from its declaration.
func fileContent(kind, name string, def types.FileObjectConfig, src FileSources) (content, from string, err error) {
	switch {
	case def.File != "":
		data, err := readImportFile(src.Dir, def.File)
		if errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("%s %q: file %v; create it or correct file:", kind, name, err)
		}
		if err != nil {
			return "", "", fmt.Errorf("%s %q: file: %v", kind, name, err)
		}
		return string(data), "file " + def.File, nil
	case def.Environment != "":
		if src.Secret == nil {
			return "", "", fmt.Errorf("%s %q takes its value from environment variable %s, which a template cannot read at import; use file: in the template, or declare the %s in the stack file (devarch.yml), where environment: reads the stack's secrets (the secrets file or the environment of stack import)",
				kind, name, def.Environment, kind)
		}
		v, ok := src.Secret(def.Environment)
		if !ok {
			return "", "", fmt.Errorf("%s %q takes its value from %s, which is not set; provide it through the secrets file or an environment variable named %s", kind, name, def.Environment, def.Environment)
		}
		return v, "environment " + def.Environment, nil
	case def.Content != "":
		return def.Content, "content", nil
	}
	return "", "", fmt.Errorf("%s %q has no file:, environment: or content:; give one", kind, name)
}

// volumeDefs returns the project's volume declarations that say more than
// compose's defaults (a local volume called "<project>_<key>").
func volumeDefs(p *types.Project) []spec.VolumeDef {
	var out []spec.VolumeDef
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		v := p.Volumes[key]
		d := spec.VolumeDef{Key: key, Name: v.Name, Driver: v.Driver, External: bool(v.External)}
		if d.Name == p.Name+"_"+key || (d.External && d.Name == key) {
			d.Name = ""
		}
		if len(v.DriverOpts) > 0 {
			d.DriverOpts = maps.Clone(map[string]string(v.DriverOpts))
		}
		if len(v.Labels) > 0 {
			d.Labels = maps.Clone(map[string]string(v.Labels))
		}
		if d.Name == "" && d.Driver == "" && !d.External && d.DriverOpts == nil && d.Labels == nil {
			continue
		}
		out = append(out, d)
	}
	return out
}

// mergeFileEnv adds the env files' variables to env (environment: wins).
func mergeFileEnv(env, fromFiles []spec.EnvVar) []spec.EnvVar {
	if len(fromFiles) == 0 {
		return env
	}
	out := slices.Concat(env, fromFiles)
	slices.SortStableFunc(out, func(a, b spec.EnvVar) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// files reads a template's env files, secrets, configs and volume
// declarations into s.
func (m *mapper) files(s *spec.ServiceSpec, svc types.ServiceConfig, p *types.Project, dir string) {
	f, problems := ServiceFiles(m.key(""), svc, p, FileSources{Dir: dir})
	m.problems = append(m.problems, problems...)
	for _, n := range f.Notes {
		m.warn("env_file", "%s", n)
	}
	s.Env = mergeFileEnv(s.Env, f.Env)
	s.Secrets, s.Configs, s.VolumeDefs = f.Secrets, f.Configs, f.VolumeDefs
	*s = s.Canonical()
}

// ModelFiles reads the env files, secrets, configs and volume declarations
// of one service written in compose syntax outside a compose file (an
// instance of a stack file): service holds the service's env_file, secrets
// and configs as decoded YAML, top the top-level secrets, configs and
// volumes. compose-go checks and normalises them (short and long syntax)
// as it would in a compose file; then ServiceFiles reads them.
func ModelFiles(prefix string, service, top map[string]any, src FileSources) (Files, []spec.Problem) {
	svc := map[string]any{"image": placeholderImage}
	maps.Copy(svc, service)
	model := map[string]any{"services": map[string]any{"service": svc}}
	for k, v := range top {
		if v != nil {
			model[k] = v
		}
	}
	dir := src.Dir
	if dir == "" {
		dir = "." // the current directory, as for the files read
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: "stack", Config: model}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, loaderOptions("stack")...)
	if err != nil {
		return Files{}, []spec.Problem{{Field: prefix, Message: fmt.Sprintf("env_file, secrets, configs or top-level volumes: %v", err)}}
	}
	svcConfig, ok := p.Services["service"]
	if !ok {
		return Files{}, []spec.Problem{{Field: prefix, Message: "the instance's files could not be read"}}
	}
	return ServiceFiles(prefix, svcConfig, p, src)
}

// storedFiles gives a template resolved with a stack's variables (Resolve)
// the env file variables, secrets and configs read at its import (stored,
// the template's folder is not read again) and the volume declarations of
// the resolved project.
func (m *mapper) storedFiles(s *spec.ServiceSpec, stored spec.ServiceSpec, p *types.Project) {
	set := map[string]bool{}
	for _, v := range s.Env {
		set[v.Key] = true
	}
	var fromFiles []spec.EnvVar
	for _, v := range stored.Env {
		if v.File != "" && !set[v.Key] {
			fromFiles = append(fromFiles, v)
		}
	}
	s.Env = mergeFileEnv(s.Env, fromFiles)
	s.Secrets, s.Configs = slices.Clone(stored.Secrets), slices.Clone(stored.Configs)
	s.VolumeDefs = volumeDefs(p)
	*s = s.Canonical()
}
