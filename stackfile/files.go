package stackfile

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// envFileDoc is one env file entry: a path, or compose's long form
// {path, required, format} plus secret: true (every variable of the file
// is secret, whatever its name).
type envFileDoc struct {
	Path     string `yaml:"path"`
	Required *bool  `yaml:"required"`
	Format   string `yaml:"format"`
	Secret   bool   `yaml:"secret"`
	// long is set for the {path, ...} form, required unless it says
	// otherwise (as in compose).
	long bool
}

// envFilesDoc is env_files or env_file: one path, or a list of paths and
// long-form entries, as compose accepts.
type envFilesDoc []envFileDoc

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *envFilesDoc) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		*d = envFilesDoc{{Path: n.Value}}
		return nil
	case yaml.SequenceNode:
		out := make(envFilesDoc, 0, len(n.Content))
		for _, item := range n.Content {
			switch item.Kind {
			case yaml.ScalarNode:
				out = append(out, envFileDoc{Path: item.Value})
			case yaml.MappingNode:
				var e envFileDoc
				if err := item.Decode(&e); err != nil {
					return err
				}
				for i := 0; i+1 < len(item.Content); i += 2 {
					switch item.Content[i].Value {
					case "path", "required", "format", "secret":
					default:
						return typeError(item.Content[i], "unknown field %q in an env file entry; the fields are path, required, format, secret", item.Content[i].Value)
					}
				}
				e.long = true
				out = append(out, e)
			default:
				return typeError(item, "expected a path or {path, required, format, secret}")
			}
		}
		*d = out
		return nil
	default:
		return typeError(n, "expected a path or a list of env files")
	}
}

// files reads the instance's env files, secrets and configs (relative to
// the stack file's folder) into its overrides, with the stack's top-level
// secrets, configs and volumes. devarch's env_files entries given as a
// plain path are optional (devarch exports name files that may not exist
// elsewhere); env_file entries follow compose (required unless
// required: false). Env files that were skipped stay listed in EnvFiles.
func (b *builder) files(prefix string, d *instanceDoc, o *spec.Overrides) {
	var entries []any
	var secretFiles, kept []string
	add := func(key string, docs envFilesDoc, shortRequired bool) bool {
		ok := true
		for i, e := range docs {
			field := fmt.Sprintf("%s.%s[%d]", prefix, key, i)
			if strings.TrimSpace(e.Path) == "" || strings.ContainsRune(e.Path, 0) {
				b.fail(field, "env file path %q is empty or invalid", e.Path)
				ok = false
				continue
			}
			required := shortRequired || e.long
			if e.Required != nil {
				required = *e.Required
			}
			entries = append(entries, map[string]any{"path": e.Path, "required": required, "format": e.Format})
			if e.Secret {
				secretFiles = append(secretFiles, e.Path)
			}
		}
		return ok
	}
	okFiles := add("env_files", d.EnvFiles, false)
	okFiles = add("env_file", d.EnvFile, true) && okFiles
	service := map[string]any{}
	if len(entries) > 0 && okFiles {
		service["env_file"] = entries
	}
	okSecrets, okConfigs := b.checkFileMounts(prefix, "secrets", d.Secrets), b.checkFileMounts(prefix, "configs", d.Configs)
	if !okSecrets || !okConfigs {
		return
	}
	if d.Secrets != nil {
		service["secrets"] = d.Secrets
	}
	if d.Configs != nil {
		service["configs"] = d.Configs
	}
	if len(service) == 0 && len(b.top) == 0 {
		return
	}
	env := map[string]string{}
	for _, v := range o.Env {
		env[v.Key] = v.Value
	}
	lookup := b.fileSource
	f, problems := catalog.ModelFiles(prefix, service, b.top, catalog.FileSources{
		Dir: b.dir, Secret: lookup, SecretEnvFiles: secretFiles, Environment: env,
	})
	b.problems = append(b.problems, problems...)
	for _, key := range []struct {
		name string
		docs envFilesDoc
	}{{"env_files", d.EnvFiles}, {"env_file", d.EnvFile}} {
		for i, e := range key.docs {
			if slices.Contains(f.Skipped, e.Path) {
				b.warn(fmt.Sprintf("%s.%s[%d]", prefix, key.name, i), "env file %s does not exist next to the stack file; it is optional, so it is skipped and its variables are not applied (create it and import again)", e.Path)
				kept = append(kept, e.Path)
			}
		}
	}
	for i := range f.Env {
		f.Env[i].Source = ""
	}
	o.Env = append(o.Env, f.Env...)
	o.Env = spec.ServiceSpec{Env: o.Env}.Canonical().Env
	o.Secrets, o.Configs, o.VolumeDefs, o.EnvFiles = nilIfEmpty(f.Secrets), nilIfEmpty(f.Configs), nilIfEmpty(f.VolumeDefs), nilIfEmpty(kept)
}

// topLevel returns the document's top-level secrets, configs and volumes
// in compose's model form.
func topLevel(doc *document) map[string]any {
	top := map[string]any{}
	for k, v := range map[string]map[string]any{"secrets": doc.Secrets, "configs": doc.Configs, "volumes": doc.Volumes} {
		if len(v) > 0 {
			top[k] = v
		}
	}
	return top
}

// fileSource looks up the value of a secret or config declared with
// environment: NAME, as compose reads it from the project's environment:
// the stack's variables: first (their ${SECRET:...} references resolved),
// then the stack's secrets (the secrets file or the environment of stack
// import).
func (b *builder) fileSource(name string) (string, bool) {
	if v, ok := b.vars[name]; ok && v != nil {
		ok := true
		resolved := secretRef.ReplaceAllStringFunc(string(*v), func(ref string) string {
			var found bool
			var value string
			if b.secrets != nil {
				value, found = b.secrets(secretRef.FindStringSubmatch(ref)[1])
			}
			ok = ok && found
			return value
		})
		if ok {
			return resolved, true
		}
	}
	if b.secrets == nil {
		return "", false
	}
	return b.secrets(name)
}
