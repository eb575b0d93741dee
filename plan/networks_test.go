package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// networkStack is shopStack whose edge instance also joins a network the
// stack owns (with an alias and an address) and an external one.
func networkStack() spec.Stack {
	s := shopStack()
	s.Instances[1].Overrides = spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Networks: spec.Networks{"default": nil, "backend": {Aliases: []string{"edge-backend"}, IPv4Address: "10.9.0.10"}, "proxy": nil},
		NetworkDefinitions: spec.NetworkDefinitions{
			"backend": {Subnets: []spec.Subnet{{Subnet: "10.9.0.0/24"}}},
			"proxy":   {External: true, Name: "traefik"},
		},
	}}
	return remerge(s)
}

// attachAll attaches the converged containers to every network they join.
func attachAll(s spec.Stack, cs []spec.Container) []spec.Container {
	for i := range cs {
		for _, inst := range s.Instances {
			if inst.ID == cs[i].InstanceID {
				for _, n := range desiredNetworks(s, inst) {
					if n != s.Network() {
						cs[i].Networks[n] = "id-" + n
					}
				}
			}
		}
	}
	return cs
}

func TestNetworksConvergedIsEmpty(t *testing.T) {
	s := networkStack()
	o := observedFor(s)
	o.Containers = attachAll(s, o.Containers)
	if p := mustCompute(s, o); !p.Empty() {
		t.Fatalf("converged stack with networks: plan %+v", p.Changes)
	}
	if got := desiredNetworks(s, s.Instances[1]); !slices.Equal(got, []string{"devarch-shop-backend", s.Network(), "traefik"}) {
		t.Errorf("desired networks of edge: %v", got)
	}
}

func TestNetworkFieldChanges(t *testing.T) {
	s := networkStack()
	o := observedFor(s)
	o.Containers = attachAll(s, o.Containers)
	edited := networkStack()
	edited.Instances[1].Overrides.Networks = spec.Networks{"default": nil, "backend": {Aliases: []string{"edge-backend", "api"}, IPv4Address: "10.9.0.10"}}
	edited = remerge(edited)
	p := mustCompute(edited, o)
	if len(p.Changes) != 1 || p.Changes[0].Instance != "edge" || !p.Changes[0].Recreate {
		t.Fatalf("plan: %+v", p.Changes)
	}
	want := []string{"networks.backend.aliases", "networks.proxy"}
	if got := paths(p.Changes[0].Fields); !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	f := p.Changes[0].Fields
	if *f[0].Old != "edge-backend" || *f[0].New != "api, edge-backend" || f[0].Source != spec.SourceUser {
		t.Errorf("aliases: %+v", f[0])
	}
	if *f[1].Old != "traefik" || f[1].New != nil {
		t.Errorf("proxy: %+v, want - networks.proxy (traefik)", f[1])
	}

	// Back to the stack's network alone: "- networks.backend".
	plain := remerge(shopStack())
	p = mustCompute(plain, o)
	if got := paths(p.Changes[0].Fields); !slices.Equal(got, []string{"networks.backend", "networks.backend.aliases", "networks.backend.ipv4_address", "networks.proxy"}) {
		t.Errorf("fields %v", got)
	}
}

func TestNetworkDrift(t *testing.T) {
	s := networkStack()
	o := observedFor(s)
	o.Containers = attachAll(s, o.Containers)
	for i := range o.Containers {
		delete(o.Containers[i].Networks, "traefik")
	}
	p := mustCompute(s, o)
	if len(p.Changes) != 1 || p.Changes[0].Instance != "edge" || !p.Changes[0].Recreate {
		t.Fatalf("plan: %+v", p.Changes)
	}
	f := p.Changes[0].Fields
	if len(f) != 1 || f[0].Path != "networks" || f[0].Source != spec.SourceRuntime || !strings.Contains(f[0].Reason, "traefik") {
		t.Errorf("fields %+v, want networks (runtime) naming traefik", f)
	}
	// The stack's own network is matched by id: a network of the same name
	// made anew is drift.
	o = observedFor(s)
	o.Containers = attachAll(s, o.Containers)
	o.NetworkIDs = map[string]string{"devarch-shop-backend": "id-new"}
	if p := mustCompute(s, o); len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Fields[0].Reason, "devarch-shop-backend") {
		t.Errorf("backend made anew: plan %+v", p.Changes)
	}
}

func TestNetworkModeIsNoNetworkDrift(t *testing.T) {
	s := shopStack()
	s.Instances[1].Overrides.NetworkMode = "none"
	s = remerge(s)
	o := observedFor(s)
	o.Containers[1].Networks = map[string]string{"none": "id-none"}
	if p := mustCompute(s, o); !p.Empty() {
		t.Fatalf("network_mode none: plan %+v", p.Changes)
	}
}

func TestUndefinedNetworkWarns(t *testing.T) {
	s := shopStack()
	s.Instances[1].Overrides.Networks = spec.Networks{"shop-net": nil}
	s = remerge(s)
	p := mustCompute(s, observedFor(s))
	if !p.Empty() {
		t.Errorf("an undefined network changes nothing: plan %+v", p.Changes)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool {
		return strings.Contains(w, `joins network "shop-net", which no network definition declares`)
	}) {
		t.Errorf("warnings %q", p.Warnings)
	}
}
