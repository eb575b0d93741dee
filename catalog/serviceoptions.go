package catalog

import (
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// optionsService is the name the keys of ServiceOptions are loaded under.
const optionsService = "instance"

// ServiceOptionKeys are the keys ServiceOptions reads, sorted: those of
// spec.Options and deploy.
func ServiceOptionKeys() []string {
	keys := append(spec.OptionKeys(), "deploy")
	slices.Sort(keys)
	return keys
}

// ServiceOptions reads keys of spec.Options written as in a compose
// service (the options of an instance in a stack file), with compose's
// own syntax, normalisation and checks, and the same checks as a
// template's. field is the mapping's path in messages ("instances.api").
// deploy.restart_policy, which compose lets win over restart, is written
// to restart. Keys outside spec.Options are problems.
func ServiceOptions(field string, keys map[string]any, restart *string) (spec.Options, []spec.Problem) {
	var problems []spec.Problem
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Contains(ServiceOptionKeys(), k) {
			problems = append(problems, spec.Problem{Field: field + "." + k, Message: "is not a field of an instance"})
		}
	}
	if len(problems) > 0 {
		return spec.Options{}, problems
	}
	svc := maps.Clone(keys)
	svc["image"] = placeholderImage
	content, err := yaml.Marshal(map[string]any{"services": map[string]any{optionsService: svc}})
	if err != nil {
		return spec.Options{}, []spec.Problem{{Field: field, Message: err.Error()}}
	}
	loaded, _, err := loadService("/"+optionsService+"/compose.yml", content)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "parse compose file: ")
		msg = strings.ReplaceAll(msg, "services."+optionsService+".", field+".")
		msg = strings.ReplaceAll(msg, "services."+optionsService, field)
		msg = strings.TrimPrefix(msg, field+": ")
		return spec.Options{}, []spec.Problem{{Field: field, Message: msg}}
	}
	m := &mapper{file: field, service: optionsService}
	o := m.options(loaded, restart)
	for _, p := range m.problems {
		p.Field = field + strings.TrimPrefix(p.Field, "services."+optionsService)
		problems = append(problems, p)
	}
	return o, problems
}
