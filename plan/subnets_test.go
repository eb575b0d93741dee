package plan

import (
	"bytes"
	"strings"
	"testing"
)

func TestSubnetShownWhenApplyCreatesTheNetwork(t *testing.T) {
	s := shopStack()
	s.Subnet = "10.128.3.0/24"
	p := mustCompute(s, Observed{ImageIDs: imageIDs(s)}) // nothing on the engine
	if len(p.Resources) != 1 {
		t.Fatalf("resources %+v, want the network", p.Resources)
	}
	r := p.Resources[0]
	if r.Kind != ResourceNetwork || r.Name != s.Network() || r.Action != ResourceCreate || r.Subnet != s.Subnet {
		t.Errorf("resource %+v, want create %s with subnet %s", r, s.Network(), s.Subnet)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "+ network " + s.Network() + " subnet 10.128.3.0/24\n"; !strings.Contains(b.String(), want) {
		t.Errorf("plan text lacks %q:\n%s", want, b.String())
	}

	// The network in place with the allocated subnet: nothing to show.
	o := observedFor(s)
	o.NetworkSubnets = []string{s.Subnet}
	if p := mustCompute(s, o); !p.Empty() || len(p.Resources) > 0 {
		t.Errorf("converged stack with its subnet: plan %+v", p)
	}
	// Without a managed subnet nothing changes either.
	s.Subnet = ""
	o.NetworkSubnets = []string{"172.18.0.0/16"}
	if p := mustCompute(s, o); !p.Empty() || len(p.Resources) > 0 {
		t.Errorf("unmanaged subnet: plan %+v", p)
	}
}

func TestSubnetDriftRecreatesNetworkAndAttachedContainers(t *testing.T) {
	s := shopStack()
	s.Subnet = "10.128.3.0/24"
	o := observedFor(s)
	o.NetworkSubnets = []string{"172.18.0.0/16"}
	p := mustCompute(s, o)
	if p.Empty() {
		t.Fatal("a network with another subnet than allocated gave an empty plan")
	}
	if len(p.Resources) != 1 || p.Resources[0].Action != ResourceRecreate || p.Resources[0].PreviousSubnet != "172.18.0.0/16" {
		t.Fatalf("resources %+v, want the network recreated from 172.18.0.0/16", p.Resources)
	}
	attached := 0
	for _, c := range o.Containers {
		if c.Running() {
			attached++
		}
	}
	if len(p.Changes) != attached || attached == 0 {
		t.Fatalf("%d changes for %d attached containers: %+v", len(p.Changes), attached, p.Changes)
	}
	for _, c := range p.Changes {
		if c.Action != ActionModify || !c.Recreate || !strings.Contains(c.Reason, "recreated with subnet 10.128.3.0/24") {
			t.Errorf("change %+v, want a recreate because of the network", c)
		}
	}
	if p.Summary.Modify != attached+1 {
		t.Errorf("summary %+v, want %d to modify (containers and the network)", p.Summary, attached+1)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "~ network " + s.Network() + " subnet 172.18.0.0/16 → 10.128.3.0/24\n"; !strings.Contains(b.String(), want) {
		t.Errorf("plan text lacks %q:\n%s", want, b.String())
	}
	if Token(Desired{Stack: s, Paths: testPaths}) == tok(shopStack()) {
		t.Error("the subnet does not change the token")
	}
}

func TestSubnetProblemWarns(t *testing.T) {
	s := shopStack()
	s.SubnetProblem = "the controller's subnet pool 10.199.0.0/30 has no free subnet left"
	p := mustCompute(s, Observed{ImageIDs: imageIDs(s)})
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "cannot be created: "+s.SubnetProblem) {
		t.Errorf("warnings %q lack the pool problem", p.Warnings)
	}
	if p := mustCompute(s, observedFor(s)); !p.Empty() || !strings.Contains(strings.Join(p.Warnings, "\n"), "keeps the subnet it has: "+s.SubnetProblem) {
		t.Errorf("existing network, pool full: plan %+v, want empty with a warning that it keeps its subnet", p)
	}
}
