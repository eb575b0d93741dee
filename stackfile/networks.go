package stackfile

import (
	"maps"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// networks reads the stack's networks section and every instance's
// networks (see catalog.StackNetworks) into the instances' overrides:
// each instance carries the section's definitions, which win over its
// template's for the same key.
func (b *builder) networks(doc *document, s *spec.Stack) {
	var section any
	if !b.decodeNode("networks", &doc.Networks, &section) {
		return
	}
	instances := map[string]any{}
	for name, d := range doc.Instances {
		if d == nil || d.Networks.IsZero() {
			continue
		}
		var v any
		if !b.decodeNode("instances."+name+".networks", &d.Networks, &v) {
			return
		}
		if v != nil {
			instances[name] = v
		}
	}
	defs, atts, problems := catalog.StackNetworks(section, instances, s.Network())
	if len(problems) > 0 {
		b.problems = append(b.problems, problems...)
		return
	}
	for i := range s.Instances {
		inst := &s.Instances[i]
		o := &inst.Overrides
		o.Networks = atts[inst.Name]
		for _, key := range o.Networks.Keys() {
			if _, ok := defs[key]; !ok && key != spec.DefaultNetwork {
				b.warn("instances."+inst.Name+".networks", "network %s is not defined in the stack's networks section: unless template %s defines it, the entry is ignored and the instance joins the stack's network %s; define it under networks (external: true for a network made outside the stack)",
					key, inst.TemplateName(), s.Network())
			}
		}
		if len(defs) > 0 {
			o.NetworkDefinitions = maps.Clone(defs)
		}
		if o.NetworkMode != "" && len(o.Networks) > 0 {
			b.fail("instances."+inst.Name+".network_mode", "network_mode and networks exclude each other, as in compose; remove one of them")
		}
		if o.NetworkMode != "" {
			if err := catalog.CheckNetworkMode(o.NetworkMode); err != nil {
				b.fail("instances."+inst.Name+".network_mode", "%v", err)
			}
		}
	}
}

// decodeNode decodes a YAML node that may be absent (false on a problem).
func (b *builder) decodeNode(field string, n *yaml.Node, v *any) bool {
	if n.IsZero() {
		return true
	}
	if err := n.Decode(v); err != nil {
		b.fail(field, "line %d: %v", n.Line, err)
		return false
	}
	return true
}
