package catalog

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// BuildSpec maps a compose build section to spec.Build: the context is
// resolved against dir (the template's folder, or the stack file's) to
// an absolute path. The keys the engine's classic builder cannot apply
// come back as ignored warnings (sub-key → message); problems are keys
// that make the build impossible. A nil result means no build.
func BuildSpec(in *types.BuildConfig, dir string) (b *spec.Build, ignored map[string]string, problems map[string]string) {
	if in == nil {
		return nil, nil, nil
	}
	ignored, problems = map[string]string{}, map[string]string{}
	context := in.Context
	if context == "" {
		context = "."
	}
	if strings.Contains(context, "://") || strings.HasPrefix(context, "git@") {
		problems["build.context"] = "remote build contexts (" + context + ") are not supported; clone the sources next to the compose file and give their directory"
		return nil, ignored, problems
	}
	if !filepath.IsAbs(context) {
		context = filepath.Join(dir, context)
	}
	b = &spec.Build{
		Context:    filepath.Clean(context),
		Dockerfile: filepath.ToSlash(in.Dockerfile),
		Target:     in.Target,
		Network:    in.Network,
		NoCache:    in.NoCache,
		ShmSize:    spec.Bytes(in.ShmSize),
	}
	for k, v := range in.Args {
		if v == nil {
			ignored["build.args."+k] = "has no value: compose would copy it from the shell that runs compose, the controller leaves it out; give it a value"
			continue
		}
		if b.Args == nil {
			b.Args = map[string]string{}
		}
		b.Args[k] = *v
	}
	for k, v := range in.Labels {
		if b.Labels == nil {
			b.Labels = map[string]string{}
		}
		b.Labels[k] = v
	}
	b.ExtraHosts = in.ExtraHosts.AsList("=")
	slices.Sort(b.ExtraHosts)
	if err := b.Validate(); err != nil {
		problems["build"] = err.Error()
	}
	unsupported := func(key string, set bool, why string) {
		if set {
			ignored["build."+key] = why
		}
	}
	const buildkit = "needs BuildKit; the controller builds with the engine's classic builder, so it is ignored"
	unsupported("dockerfile_inline", in.DockerfileInline != "", "inline Dockerfiles are not supported; write it to a file in the build context and name it in build.dockerfile")
	unsupported("ssh", len(in.SSH) > 0, buildkit)
	unsupported("secrets", len(in.Secrets) > 0, buildkit)
	unsupported("additional_contexts", len(in.AdditionalContexts) > 0, buildkit)
	unsupported("cache_to", len(in.CacheTo) > 0, buildkit)
	unsupported("no_cache_filter", len(in.NoCacheFilter) > 0, buildkit)
	unsupported("entitlements", len(in.Entitlements) > 0, buildkit)
	unsupported("provenance", in.Provenance != "", buildkit)
	unsupported("sbom", in.SBOM != "", buildkit)
	unsupported("platforms", len(in.Platforms) > 0, "multi-platform builds need BuildKit; the image is built for the engine's platform")
	unsupported("cache_from", len(in.CacheFrom) > 0, "cache sources are not used: there is no registry; the engine's local build cache applies")
	unsupported("pull", in.Pull, "the controller never pulls: base images must already be on the engine")
	unsupported("tags", len(in.Tags) > 0, "extra tags are not applied; the image is tagged as the service's image (or devarch-build/<stack>/<instance>:latest)")
	unsupported("ulimits", len(in.Ulimits) > 0, "build-time ulimits are not applied")
	unsupported("isolation", in.Isolation != "", "build isolation is not applied")
	unsupported("privileged", in.Privileged, "privileged builds are not applied")
	return b.Canonical(), ignored, problems
}

// BuildSection reads a build section written as in a compose file (the
// short form, a context path, or the mapping) with compose-go, for the
// stack file: field names it in problems, dir resolves a relative context
// ("" refuses one). Keys the builder cannot apply come back as warnings,
// one sentence each.
func BuildSection(field string, v any, dir string) (*spec.Build, []string, []spec.Problem) {
	content, err := yaml.Marshal(map[string]any{"services": map[string]any{optionsService: map[string]any{"image": placeholderImage, "build": v}}})
	if err != nil {
		return nil, nil, []spec.Problem{{Field: field, Message: err.Error()}}
	}
	loaded, _, err := loadService("/"+optionsService+"/compose.yml", content)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "parse compose file: ")
		msg = strings.ReplaceAll(msg, "services."+optionsService+".build", field)
		return nil, nil, []spec.Problem{{Field: field, Message: msg}}
	}
	if loaded.Build == nil {
		return nil, nil, nil
	}
	if dir == "" && !filepath.IsAbs(cmp.Or(loaded.Build.Context, ".")) {
		return nil, nil, []spec.Problem{{Field: field + ".context", Message: fmt.Sprintf("build context %q is relative, and the stack file was not read from a file it could be relative to; give an absolute path", cmp.Or(loaded.Build.Context, "."))}}
	}
	b, ignored, problems := BuildSpec(loaded.Build, dir)
	var warnings []string
	for _, k := range sortedKeys(ignored) {
		warnings = append(warnings, fmt.Sprintf("%s: %s", strings.Replace(k, "build", field, 1), ignored[k]))
	}
	var ps []spec.Problem
	for _, k := range sortedKeys(problems) {
		ps = append(ps, spec.Problem{Field: strings.Replace(k, "build", field, 1), Message: problems[k]})
	}
	return b, warnings, ps
}
