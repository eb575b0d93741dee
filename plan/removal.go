package plan

import (
	"fmt"
	"slices"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/spec"
)

// Resource kinds and actions of a removal.
const (
	ResourceNetwork = "network"
	ResourceVolume  = "volume"
	// ResourceRemove: apply removes the resource.
	ResourceRemove = "remove"
	// ResourceKeep: apply leaves the resource (and its data) as it is.
	ResourceKeep = "keep"
)

// Resource is a network or named volume of a deleted stack, and what the
// removal does with it. Networks the stack created are removed; external
// networks are never listed. Named volumes are kept unless the delete
// asked for them to be removed (spec.Stack.RemoveVolumes); anonymous
// volumes go with their containers.
type Resource struct {
	// Kind is "network" or "volume".
	Kind string `json:"kind"`
	// Name is the resource's name on the engine.
	Name string `json:"name"`
	// Action is "remove" or "keep".
	Action string `json:"action"`
	// Reason is one sentence saying why.
	Reason string `json:"reason"`
	// Subnet is the subnet a network is created or recreated with (see
	// addSubnet); PreviousSubnet the one a recreated network has now.
	Subnet         string `json:"subnet,omitempty"`
	PreviousSubnet string `json:"previous_subnet,omitempty"`
}

// Symbol is "-" for a removal, "+" for a creation, "~" for a recreation
// and " " for a kept resource.
func (r Resource) Symbol() string {
	switch r.Action {
	case ResourceRemove:
		return "-"
	case ResourceCreate:
		return "+"
	case ResourceRecreate:
		return "~"
	}
	return " "
}

// addRemoval completes the plan of a deleted stack: its containers are
// removed because the stack is deleted, and its networks and named
// volumes are listed as removed or kept.
func addRemoval(p *Plan, s spec.Stack, o Observed) {
	if !s.Deleting {
		return
	}
	for i := range p.Changes {
		if p.Changes[i].Action == ActionRemove {
			p.Changes[i].Reason = "the stack is deleted"
		}
	}
	for _, name := range slices.Sorted(slices.Values(o.OwnedNetworks)) {
		p.Resources = append(p.Resources, Resource{Kind: ResourceNetwork, Name: name, Action: ResourceRemove,
			Reason: "the stack is deleted and created this network"})
	}
	project := spec.ProjectName(s.Name)
	names := make([]string, 0, len(o.Volumes))
	for name := range o.Volumes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := o.Volumes[name]
		r := Resource{Kind: ResourceVolume, Name: name, Action: ResourceKeep}
		switch {
		case v.Labels[api.ProjectLabel] != project:
			r.Reason = fmt.Sprintf("kept: it was not created for the stack's compose project %s", project)
		case s.RemoveVolumes:
			r.Action, r.Reason = ResourceRemove, "the stack is deleted with its volumes"
		default:
			r.Reason = "kept with its data: delete the stack with --volumes (remove_volumes: true) to remove it"
		}
		p.Resources = append(p.Resources, r)
	}
}

// removesResources reports whether the plan removes a network or volume.
func (p *Plan) removesResources() bool { return p.resourceRemovals() > 0 }

// resourceRemovals counts the networks and volumes the plan removes.
func (p *Plan) resourceRemovals() int {
	n := 0
	for _, r := range p.Resources {
		if r.Action == ResourceRemove {
			n++
		}
	}
	return n
}

// resources renders a removal's networks and volumes: "- network NAME"
// for each removed, "  volume NAME (kept: ...)" for each kept.
func (t *textWriter) resources(rs []Resource) {
	for _, r := range rs {
		mark := r.Symbol()
		switch r.Action {
		case ResourceRemove:
			mark = t.paint(ansiRed, mark)
		case ResourceCreate:
			mark = t.paint(ansiGreen, mark)
		case ResourceRecreate:
			mark = t.paint(ansiYellow, mark)
		}
		t.printf("  %s %s %s%s\n", mark, r.Kind, t.paint(ansiBold, r.Name), r.detail())
		t.printf("      %s\n", t.paint(ansiDim, r.Reason))
	}
	if len(rs) > 0 {
		t.printf("\n")
	}
}
