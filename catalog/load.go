package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// placeholderImage is the image of the stand-in services declared for
// dependencies on other templates while compose-go checks consistency.
const placeholderImage = "devarch-catalog-placeholder"

// LoadFile reads one template file: a compose file defining exactly one
// service. The template is named after the service, its category is the
// folder above the template's folder, and SourcePath is path as given.
// Config files named by x-devarch-config are read from the template's
// config/ folder.
//
// Keys the controller does not honour produce warnings, not errors. Errors
// name the file and list every problem found.
func LoadFile(path string) (Result, error) {
	res, err := loadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("load template %s: %w", path, err)
	}
	return res, nil
}

func loadFile(path string) (Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{}, fmt.Errorf("resolve path: %w", err)
	}
	content, err := os.ReadFile(abs)
	if err != nil {
		return Result{}, fmt.Errorf("read file: %w", err)
	}
	// A file that references variables is kept whole for the stacks to
	// resolve (Resolve); its catalog copy leaves typed keys that hold a
	// reference unset.
	var compose string
	loaded, removed := content, []string(nil)
	refs := references(content)
	if len(refs) > 0 {
		compose = string(content)
		if loaded, removed, err = catalogCopy(content, typeCasts()); err != nil {
			return Result{}, err
		}
	}
	svc, project, err := loadService(abs, loaded)
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Dir(abs)
	m := &mapper{file: path, service: svc.Name, references: refs}
	m.warnings = append(m.warnings, variableWarnings(path, refs, removed)...)
	s := m.serviceSpec(svc, dir)
	m.files(&s, svc, project, dir)
	s.Networks, s.NetworkDefinitions = m.serviceNetworks(svc, project)
	if err := m.err(); err != nil {
		return Result{}, err
	}
	return Result{
		Template: spec.Template{
			Name:       svc.Name,
			Category:   filepath.Base(filepath.Dir(dir)),
			SourcePath: path,
			Spec:       s,
			Compose:    compose,
		},
		Warnings: m.warnings,
		Keys:     withRemovedKeys(setKeys(svc), svc.Name, removed),
	}, nil
}

// loadService parses the file with compose-go and returns its only service.
//
// Dependencies usually name services of other templates, which compose-go's
// consistency check would reject. The model is therefore loaded first,
// placeholder services are declared for those dependencies, and only then
// is the model bound to a project (which runs the consistency check); the
// placeholders are dropped afterwards.
//
// compose-go panics on some malformed files (a long-syntax config or secret
// entry with `target:` and no value); such a panic is returned as an error
// saying what to look for, so that a bad file never stops an import.
func loadService(abs string, content []byte, extra ...func(*loader.Options)) (svc types.ServiceConfig, p *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			svc, p = types.ServiceConfig{}, nil
			err = fmt.Errorf("parse compose file: the compose loader failed on this file (%v); look for an entry with a key and no value, such as `target:` with nothing after it", r)
		}
	}()
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: content}},
		Environment: types.Mapping{},
	}
	opts := append(loaderOptions(projectName(filepath.Dir(abs))), extra...)
	ctx := context.Background()
	model, err := loader.LoadModelWithContext(ctx, details, opts...)
	if err != nil {
		return types.ServiceConfig{}, nil, fmt.Errorf("parse compose file: %w", err)
	}
	name, err := onlyService(model)
	if err != nil {
		return types.ServiceConfig{}, nil, err
	}
	placeholders := declarePlaceholders(model, name)
	project, err := loader.ModelToProject(model, loader.ToOptions(&details, opts), details)
	if err != nil {
		return types.ServiceConfig{}, nil, fmt.Errorf("parse compose file: %w", err)
	}
	for _, p := range placeholders {
		delete(project.Services, p)
	}
	svc, ok := project.Services[name]
	if !ok {
		return types.ServiceConfig{}, nil, fmt.Errorf("service %q is missing after loading; check its profiles and extends", name)
	}
	svc.Name = name
	return svc, project, nil
}

// loaderOptions configures compose-go: no environment (neither the
// process's nor a .env file), no variable interpolation beyond "$$"
// unescaping (Resolve adds the stack's variables), paths kept as written,
// every profile enabled, schema validation on.
func loaderOptions(name string) []func(*loader.Options) {
	return []func(*loader.Options){func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.ResolvePaths = false
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		o.Profiles = []string{"*"}
		o.Interpolate.Substitute = unescapeDollars
		o.Interpolate.LookupValue = func(string) (string, bool) { return "", false }
		casts := maps.Clone(o.Interpolate.TypeCastMapping) // shared by compose-go: never modify it
		if casts == nil {
			casts = map[tree.Path]interp.Cast{}
		}
		casts[portItemPath] = castPort
		o.Interpolate.TypeCastMapping = casts
	}}
}

// projectName derives a valid compose project name from the template's
// folder.
func projectName(dir string) string {
	if n := loader.NormalizeProjectName(filepath.Base(dir)); n != "" {
		return n
	}
	return "template"
}

// onlyService returns the name of the model's only service.
func onlyService(model map[string]any) (string, error) {
	services, _ := model["services"].(map[string]any)
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", errors.New("the file defines no service; a template file must define exactly one service")
	default:
		return "", fmt.Errorf("the file defines %d services (%s); a template file must define exactly one service, so split it into one folder per service",
			len(names), strings.Join(names, ", "))
	}
}

// declarePlaceholders adds a stand-in service for every other service the
// named service refers to (depends_on, links, volumes_from) that the model
// does not define, and returns their names.
func declarePlaceholders(model map[string]any, name string) []string {
	services, _ := model["services"].(map[string]any)
	svc, _ := services[name].(map[string]any)
	var refs []string
	deps, _ := svc["depends_on"].(map[string]any)
	for dep := range deps {
		refs = append(refs, dep)
	}
	links, _ := svc["links"].([]any)
	for _, l := range links {
		if s, ok := l.(string); ok {
			target, _, _ := strings.Cut(s, ":")
			refs = append(refs, target)
		}
	}
	from, _ := svc["volumes_from"].([]any)
	for _, f := range from {
		if s, ok := f.(string); ok && !strings.HasPrefix(s, "container:") {
			target, _, _ := strings.Cut(s, ":")
			refs = append(refs, target)
		}
	}
	if mode, ok := svc["network_mode"].(string); ok && strings.HasPrefix(mode, types.NetworkModeServicePrefix) {
		refs = append(refs, strings.TrimPrefix(mode, types.NetworkModeServicePrefix))
	}
	var added []string
	for _, dep := range refs {
		if _, ok := services[dep]; ok {
			continue
		}
		services[dep] = map[string]any{"image": placeholderImage}
		added = append(added, dep)
	}
	return added
}
