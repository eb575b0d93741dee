package spec

import (
	"encoding/json"
	"reflect"
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
