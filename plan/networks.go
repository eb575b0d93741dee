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
func (d *differ) networks(had, want project.Record, adding bool) {
	if len(had.Networks) == 0 && len(want.Networks) == 0 {
		return // the stack's own network alone, or a network_mode: "networks" and "network_mode" say it
	}
	hadNets, wantNets := recordNetworks(had), recordNetworks(want)
	if adding {
		hadNets = nil
	}
	source := map[string]spec.Source{}
	for k := range wantNets {
		source[k] = d.inst.Effective.Networks.Source
	}
	d.keyed("networks.", hadNets, wantNets, source, wantNets, len(d.inst.Overrides.Networks) > 0)
}

// recordNetworks are a record's network leaves. A record without any
// joins the stack's own network alone (see project.Record), unless it
// has a network_mode.
func recordNetworks(r project.Record) map[string]string {
	if len(r.Networks) > 0 || r.Options["network_mode"] != "" {
		return r.Networks
	}
	return map[string]string{spec.DefaultNetwork: r.Network}
}

// desiredNetworks returns the engine names of the networks an instance's
// container must be attached to: none with a network_mode.
func desiredNetworks(s spec.Stack, inst spec.Instance) []string {
	e := inst.Effective
	if e.Options.NetworkMode != "" {
		return nil
	}
	if len(e.Networks.Value) == 0 {
		return []string{s.Network()}
	}
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
func networkDrift(c spec.Container, want []string, idOf func(string) string) (FieldChange, bool) {
	if !c.Running() || len(want) == 0 {
		return FieldChange{}, false
	}
	var missing []string
	for _, name := range want {
		id := idOf(name)
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

// networkID returns the id of the stack's network name, "" when unknown.
func (o Observed) networkID(s spec.Stack, name string) string {
	if name == s.Network() {
		return o.NetworkID
	}
	return o.NetworkIDs[name]
}

// networkWarnings are the warnings about the networks of the stack's
// enabled instances: keys nobody defines, definitions that disagree.
func networkWarnings(s spec.Stack, enabled map[string]bool) []string {
	var ws []string
	named := false
	for _, inst := range s.Instances {
		if enabled[inst.Name] && len(inst.Effective.Networks.Value) > 0 && inst.Effective.Options.NetworkMode == "" {
			named = true
			_, w := project.Attachments(inst)
			ws = append(ws, w...)
		}
	}
	if !named {
		return nil
	}
	_, w := project.Networks(s)
	return append(ws, w...)
}

// changesNetworks reports whether fields already change the container's
// networks (its networks, an attachment, its network_mode): a container
// that is not attached to its new networks yet is no drift.
func changesNetworks(fs []FieldChange) bool {
	return slices.ContainsFunc(fs, func(f FieldChange) bool {
		return f.Path == "networks" || f.Path == "network_mode" || strings.HasPrefix(f.Path, "networks.")
	})
}
