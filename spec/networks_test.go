package spec

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNetworksJSON(t *testing.T) {
	var o Overrides
	// The list form earlier controllers stored.
	if err := json.Unmarshal([]byte(`{"networks":["shop-net","default"]}`), &o); err != nil {
		t.Fatal(err)
	}
	if want := (Networks{"shop-net": nil, "default": nil}); !reflect.DeepEqual(o.Networks, want) {
		t.Errorf("list form: %v, want %v", o.Networks, want)
	}
	in := Overrides{ServiceSpec: ServiceSpec{
		Networks:           Networks{"backend": {Aliases: []string{"a"}, IPv4Address: "10.0.0.2", GwPriority: 1}, "default": nil},
		NetworkDefinitions: NetworkDefinitions{"backend": {Subnets: []Subnet{{Subnet: "10.0.0.0/24"}}}, "proxy": {External: true, Name: "traefik"}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Overrides
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip: %s\ngave %+v", b, out)
	}
	if err := json.Unmarshal([]byte(`{"networks":"x"}`), &out); err == nil {
		t.Error("a string is not networks")
	}
}

func TestMergeNetworks(t *testing.T) {
	tmpl := ServiceSpec{
		Networks:           Networks{"default": nil, "backend": {Aliases: []string{"b", "a", "b"}}},
		NetworkDefinitions: NetworkDefinitions{"backend": {Driver: "bridge"}, "proxy": {External: true}},
	}
	e := Merge(&tmpl, Overrides{})
	if e.Networks.Source != SourceTemplate || !reflect.DeepEqual(e.Networks.Value["backend"].Aliases, []string{"a", "b"}) {
		t.Errorf("inherited: %+v", e.Networks)
	}
	// The override's networks replace the template's whole; definitions
	// merge by key, the override's winning.
	u := Overrides{ServiceSpec: ServiceSpec{
		Networks:           Networks{"proxy": {Aliases: []string{"x"}}},
		NetworkDefinitions: NetworkDefinitions{"proxy": {External: true, Name: "traefik"}},
	}}
	e = Merge(&tmpl, u)
	if e.Networks.Source != SourceUser || len(e.Networks.Value) != 1 || e.Networks.Value["proxy"] == nil {
		t.Errorf("replaced: %+v", e.Networks)
	}
	if e.NetworkDefinitions["proxy"].Name != "traefik" || e.NetworkDefinitions["backend"].Driver != "bridge" {
		t.Errorf("definitions: %+v", e.NetworkDefinitions)
	}
	if tmpl.Networks["backend"].Aliases[0] != "b" {
		t.Error("Merge modified the template")
	}
}

func TestNetworksDefaultOnly(t *testing.T) {
	for _, tt := range []struct {
		n    Networks
		want bool
	}{
		{nil, true},
		{Networks{"default": nil}, true},
		{Networks{"default": {}}, true},
		{Networks{"default": {Aliases: []string{"a"}}}, false},
		{Networks{"backend": nil}, false},
		{Networks{"default": nil, "backend": nil}, false},
	} {
		if got := tt.n.IsDefaultOnly(); got != tt.want {
			t.Errorf("%v.IsDefaultOnly() = %t", tt.n, got)
		}
	}
}

func TestNetworkNameOf(t *testing.T) {
	s := Stack{Name: "shop"}
	for _, tt := range []struct {
		key  string
		def  Network
		want string
	}{
		{"default", Network{}, "devarch-shop-net"},
		{"backend", Network{}, "devarch-shop-backend"},
		{"backend", Network{Name: "ignored"}, "devarch-shop-backend"},
		{"proxy", Network{External: true}, "proxy"},
		{"proxy", Network{External: true, Name: "traefik"}, "traefik"},
	} {
		if got := s.NetworkNameOf(tt.key, tt.def); got != tt.want {
			t.Errorf("NetworkNameOf(%s, %+v) = %s, want %s", tt.key, tt.def, got, tt.want)
		}
	}
}

func TestValidateNetworks(t *testing.T) {
	inst := func(name string, o Overrides) Instance {
		o.Image = "busybox"
		return Instance{Name: name, Enabled: true, Overrides: o, Effective: Merge(nil, o)}
	}
	s := Stack{Name: "shop", Instances: []Instance{
		inst("a", Overrides{ServiceSpec: ServiceSpec{
			Networks:           Networks{"b c": nil, "x": {IPv4Address: "::1", IPv6Address: "10.0.0.1", LinkLocalIPs: []string{"nope"}}},
			NetworkDefinitions: NetworkDefinitions{"default": {}, "x": {Subnets: []Subnet{{Subnet: "10.0.0.0"}}}},
		}}),
		inst("b", Overrides{ServiceSpec: ServiceSpec{Options: Options{NetworkMode: "service:ghost"}}}),
		inst("c", Overrides{ServiceSpec: ServiceSpec{Options: Options{NetworkMode: "mynet"}}}),
		inst("d", Overrides{ServiceSpec: ServiceSpec{Options: Options{NetworkMode: "service:d"}}}),
		inst("e", Overrides{ServiceSpec: ServiceSpec{Options: Options{NetworkMode: "service:a"}}}),
	}}
	err := s.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate: %v", err)
	}
	text := err.Error()
	for _, want := range []string{
		`instances.a.networks: network key "b c" is invalid`,
		`instances.a.networks.x.ipv4_address: "::1" is not an IPv4 address`,
		`instances.a.networks.x.ipv6_address: "10.0.0.1" is not an IPv6 address`,
		`instances.a.networks.x.link_local_ips: "nope" is not an IP address`,
		`instances.a.network_definitions.default: "default" is the stack's own network`,
		`instances.a.network_definitions.x.subnets: subnet "10.0.0.0" is not a CIDR prefix`,
		`instances.b.network_mode: network_mode "service:ghost" names "ghost", which is not an instance of stack "shop"`,
		`instances.c.network_mode: network_mode "mynet" is not host, none, bridge`,
		`instances.d.network_mode: network_mode "service:d" names the instance itself`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "instances.e.") {
		t.Errorf("service:a is valid:\n%s", text)
	}
}
