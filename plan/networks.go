package plan

import (
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// networks records one change per network attachment leaf
// ("+ networks.proxy", "~ networks.backend.aliases",
// "- networks.backend.ipv4_address"). All of them come from the
// instance's networks, whose source is that of the whole list
// (replace-all).
func (d *differ) networks(had, want map[string]string) {
	source := map[string]spec.Source{}
	for k := range want {
		source[k] = d.inst.Effective.Networks.Source
	}
	d.keyed("networks.", had, want, source, want, len(d.inst.Overrides.Networks) > 0)
}

// desiredNetworks returns the engine names of the networks an instance's
// container must be attached to: none with a network_mode.
func desiredNetworks(s spec.Stack, inst spec.Instance) []string {
	att, _ := project.Attachments(inst)
	var names []string
	for _, key := range att.Keys() {
		names = append(names, project.NetworkName(s, key, inst.Effective.NetworkDefinitions[key]))
	}
	return names
}

// networkDrift reports a running container that is not attached to every
// network it should be: compose recreates it. ids maps network names to
// their ids where known (the stack's own networks); a network without a
// known id is matched by name.
func networkDrift(c spec.Container, want []string, ids map[string]string) (FieldChange, bool) {
	if !c.Running() || len(want) == 0 {
		return FieldChange{}, false
	}
	var missing []string
	for _, name := range want {
		id := ids[name]
		attached := false
		for n, cid := range c.Networks {
			if (id != "" && cid == id) || (id == "" && n == name) {
				attached = true
				break
			}
		}
		if !attached {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return FieldChange{}, false
	}
	names := make([]string, 0, len(c.Networks))
	for name := range c.Networks {
		names = append(names, name)
	}
	slices.Sort(names)
	reason := "the container is not attached to the stack's network"
	if len(want) > 1 {
		reason = "the container is not attached to " + strings.Join(missing, ", ")
	}
	return FieldChange{
		Path: "networks", Old: str(strings.Join(names, ", ")), New: str(strings.Join(want, ", ")),
		Source: spec.SourceRuntime, Reason: reason,
	}, true
}

// networkIDs maps the names of the stack's networks to their ids, where
// known.
func (o Observed) networkIDs(s spec.Stack) map[string]string {
	ids := make(map[string]string, len(o.NetworkIDs)+1)
	for n, id := range o.NetworkIDs {
		ids[n] = id
	}
	if o.NetworkID != "" {
		ids[s.Network()] = o.NetworkID
	}
	return ids
}

// networkWarnings are the warnings about the networks of the stack's
// enabled instances: keys nobody defines, definitions that disagree.
func networkWarnings(s spec.Stack, enabled map[string]bool) []string {
	var ws []string
	for _, inst := range s.Instances {
		if enabled[inst.Name] {
			_, w := project.Attachments(inst)
			ws = append(ws, w...)
		}
	}
	_, w := project.Networks(s)
	return append(ws, w...)
}
