package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// Resource actions of a stack's own network when the controller manages
// its subnet (spec.Stack.Subnet, network.subnet_pool).
const (
	// ResourceCreate: apply creates the network with Resource.Subnet.
	ResourceCreate = "create"
	// ResourceRecreate: the network exists with another subnet
	// (Resource.PreviousSubnet); apply removes it and creates it with
	// Resource.Subnet, recreating the containers attached to it.
	ResourceRecreate = "recreate"
)

// addSubnet shows the subnet of the stack's own network when the
// controller allocated one: "+ network NAME subnet S" when the network is
// missing and apply will run (it creates the network with S), and "~
// network NAME subnet A → S" when the network exists with other subnets:
// drift that apply repairs by recreating the network, so every container
// attached to it is recreated too. A stack whose pool is full gets a
// warning (apply refuses to create its network, and leaves an existing
// one as it is). A plan without a managed subnet is left as it is.
func addSubnet(p *Plan, s spec.Stack, o Observed) {
	if s.Deleting {
		return
	}
	if s.SubnetProblem != "" {
		if o.NetworkID == "" {
			p.Warnings = append(p.Warnings, "The network "+s.Network()+" cannot be created: "+s.SubnetProblem+".")
		} else {
			p.Warnings = append(p.Warnings, "The network "+s.Network()+" keeps the subnet it has: "+s.SubnetProblem+".")
		}
		return
	}
	if s.Subnet == "" {
		return
	}
	if o.NetworkID == "" {
		if len(p.Changes) > 0 {
			p.Resources = append(p.Resources, Resource{Kind: ResourceNetwork, Name: s.Network(), Action: ResourceCreate, Subnet: s.Subnet,
				Reason: "created with the subnet the controller allocated to the stack from its pool"})
		}
		return
	}
	if o.NetworkSubnets == nil || slices.Equal(o.NetworkSubnets, []string{s.Subnet}) {
		return // not observed, or as allocated
	}
	had := strings.Join(o.NetworkSubnets, ", ")
	if had == "" {
		had = "none"
	}
	p.Resources = append(p.Resources, Resource{Kind: ResourceNetwork, Name: s.Network(), Action: ResourceRecreate, Subnet: s.Subnet, PreviousSubnet: had,
		Reason: fmt.Sprintf("the network has subnet %s, the controller allocated %s to the stack: apply removes and recreates it", had, s.Subnet)})
	recreateAttached(p, s, o)
}

// recreateAttached marks the change of every container attached to the
// stack's network as a recreate, adding a change for a container that had
// none: the network it is attached to goes away.
func recreateAttached(p *Plan, s spec.Stack, o Observed) {
	reason := "its network " + s.Network() + " is recreated with subnet " + s.Subnet
	for _, c := range o.Containers {
		if c.StackID != s.ID || !attachedTo(c, s.Network(), o.NetworkID) {
			continue
		}
		i := slices.IndexFunc(p.Changes, func(ch Change) bool { return ch.ContainerID == c.ID })
		if i < 0 {
			p.Changes = append(p.Changes, Change{Action: ActionModify, Instance: c.InstanceName, InstanceID: c.InstanceID, Container: c.Name, ContainerID: c.ID,
				Recreate: true, Reason: reason, Fields: []FieldChange{}})
			continue
		}
		if ch := &p.Changes[i]; ch.Action == ActionModify && !ch.Recreate {
			ch.Recreate = true
			ch.Reason += "; " + reason
		}
	}
}

func attachedTo(c spec.Container, name, id string) bool {
	for n, cid := range c.Networks {
		if n == name || (id != "" && cid == id) {
			return true
		}
	}
	return false
}

// recreatesNetwork reports whether the plan recreates a network.
func (p *Plan) recreatesNetwork() bool { return p.networkRecreates() > 0 }

// networkRecreates counts the networks the plan recreates.
func (p *Plan) networkRecreates() int {
	n := 0
	for _, r := range p.Resources {
		if r.Action == ResourceRecreate {
			n++
		}
	}
	return n
}

// detail is what a resource line shows after its name: the subnet a
// network is created or recreated with.
func (r Resource) detail() string {
	switch {
	case r.Subnet == "":
		return ""
	case r.PreviousSubnet != "":
		return " subnet " + r.PreviousSubnet + " → " + r.Subnet
	}
	return " subnet " + r.Subnet
}
