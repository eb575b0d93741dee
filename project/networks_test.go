package project

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

func netInstance(id int64, name string, o spec.Overrides) spec.Instance {
	tmpl := &spec.Template{Name: "app", Spec: spec.ServiceSpec{Image: "busybox"}}
	return spec.Instance{ID: id, Name: name, Enabled: true, Template: tmpl, Overrides: o, Effective: spec.Merge(&tmpl.Spec, o)}
}

func TestBuildNetworks(t *testing.T) {
	s := spec.Stack{ID: 1, Name: "shop", Enabled: true, Instances: []spec.Instance{
		netInstance(1, "web", spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Networks: spec.Networks{"default": nil, "backend": {Aliases: []string{"w"}, IPv4Address: "10.0.0.5"}, "proxy": nil, "nowhere": nil},
			NetworkDefinitions: spec.NetworkDefinitions{
				"backend": {Subnets: []spec.Subnet{{Subnet: "10.0.0.0/24"}}},
				"proxy":   {External: true, Name: "traefik"},
			},
		}}),
		netInstance(2, "db", spec.Overrides{}),
		netInstance(3, "box", spec.Overrides{ServiceSpec: spec.ServiceSpec{Options: spec.Options{NetworkMode: "service:db"}}}),
	}}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"default": "devarch-shop-net", "backend": "devarch-shop-backend", "proxy": "traefik"} {
		if n := p.Networks[key]; n.Name != want || !bool(n.External) {
			t.Errorf("network %s: %+v, want %s external to compose", key, n, want)
		}
	}
	if _, ok := p.Networks["nowhere"]; ok {
		t.Error("an undefined network is declared")
	}
	web := p.Services["web"].Networks
	if len(web) != 3 || web["default"] != nil || web["proxy"] != nil || web["backend"] == nil || web["backend"].Ipv4Address != "10.0.0.5" {
		t.Errorf("web's networks %+v", web)
	}
	if db := p.Services["db"].Networks; len(db) != 1 || db["default"] != nil {
		t.Errorf("db's networks %+v, want the stack's alone", db)
	}
	box := p.Services["box"]
	if box.NetworkMode != "service:db" || box.Networks != nil || box.DependsOn["db"].Condition != types.ServiceConditionStarted {
		t.Errorf("box: network_mode %q networks %v depends_on %v", box.NetworkMode, box.Networks, box.DependsOn)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], `joins network "nowhere"`) {
		t.Errorf("warnings %q", p.Warnings)
	}
	r := NewRecord(s, s.Instances[0], Options{})
	want := map[string]string{
		"default": "devarch-shop-net", "backend": "devarch-shop-backend (subnet 10.0.0.0/24)", "backend.aliases": "w",
		"backend.ipv4_address": "10.0.0.5", "proxy": "traefik",
	}
	if len(r.Networks) != len(want) {
		t.Errorf("record networks %v, want %v", r.Networks, want)
	}
	for k, v := range want {
		if r.Networks[k] != v {
			t.Errorf("record networks.%s = %q, want %q", k, r.Networks[k], v)
		}
	}
	// A record of an instance on the stack's network alone holds no
	// networks: it is the record of earlier controllers, so their
	// containers are not recreated.
	if r := NewRecord(s, s.Instances[1], Options{}); r.Networks != nil || strings.Contains(r.Encode(), `"networks"`) {
		t.Errorf("db's record: %s", r.Encode())
	}
}

func TestNetworkModeTargetMissing(t *testing.T) {
	s := spec.Stack{ID: 1, Name: "shop", Enabled: true, Instances: []spec.Instance{
		netInstance(1, "box", spec.Overrides{ServiceSpec: spec.ServiceSpec{Options: spec.Options{NetworkMode: "service:vpn"}}}),
	}}
	if _, err := Build(s, Options{}); err == nil || !strings.Contains(err.Error(), `"vpn" is disabled or missing`) {
		t.Errorf("err = %v", err)
	}
	var resolved types.ServiceConfig
	resolved.NetworkMode = "service:x"
	if ok := ResolveReferences(&resolved, map[string]string{"x": "abc"}); !ok || resolved.NetworkMode != "container:abc" {
		t.Errorf("network_mode resolved to %q (%t), want container:abc", resolved.NetworkMode, ok)
	}
}

func TestConflictingDefinitionsWarn(t *testing.T) {
	def := func(subnet string) spec.Overrides {
		return spec.Overrides{ServiceSpec: spec.ServiceSpec{Networks: spec.Networks{"b": nil},
			NetworkDefinitions: spec.NetworkDefinitions{"b": {Subnets: []spec.Subnet{{Subnet: subnet}}}}}}
	}
	s := spec.Stack{ID: 1, Name: "shop", Enabled: true, Instances: []spec.Instance{netInstance(1, "a", def("10.0.0.0/24")), netInstance(2, "c", def("10.1.0.0/24"))}}
	nets, warnings := Networks(s)
	if len(nets) != 1 || nets[0].Definition.Subnets[0].Subnet != "10.0.0.0/24" || len(warnings) != 1 || !strings.Contains(warnings[0], `define network "b" differently`) {
		t.Errorf("networks %+v warnings %q", nets, warnings)
	}
}
