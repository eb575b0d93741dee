package stackfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

const networksFile = `version: 1
stack:
  name: s
  network_name: s-net
networks:
  backend:
    ipam:
      config:
        - subnet: 10.1.0.0/24
  proxy:
    external: true
    name: traefik
instances:
  api:
    template: node
    networks: [s-net, backend]
  web:
    template: nginx
    networks:
      proxy:
        aliases: [www]
      backend:
        ipv4_address: 10.1.0.20
  box:
    template: busybox
    network_mode: none
`

func TestParseNetworks(t *testing.T) {
	f, err := Parse([]byte(networksFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defs := spec.NetworkDefinitions{"backend": {Subnets: []spec.Subnet{{Subnet: "10.1.0.0/24"}}}, "proxy": {External: true, Name: "traefik"}}
	want := map[string]spec.Networks{
		"api": {"default": nil, "backend": nil},
		"web": {"proxy": {Aliases: []string{"www"}}, "backend": {IPv4Address: "10.1.0.20"}},
		"box": nil,
	}
	for _, inst := range f.Stack.Instances {
		if !reflect.DeepEqual(inst.Overrides.Networks, want[inst.Name]) {
			t.Errorf("%s: networks %+v, want %+v", inst.Name, inst.Overrides.Networks, want[inst.Name])
		}
		if !reflect.DeepEqual(inst.Overrides.NetworkDefinitions, defs) {
			t.Errorf("%s: definitions %+v, want the stack's %+v", inst.Name, inst.Overrides.NetworkDefinitions, defs)
		}
	}
	if box := f.Stack.Instances[1]; box.Name != "box" || box.Overrides.NetworkMode != "none" {
		t.Errorf("box: %+v", box.Overrides)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings %q", f.Warnings)
	}
}

func TestParseNetworksProblems(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"network_mode and networks", stackWithApp("network_mode: host\nnetworks: [default]"), "instances.app.network_mode: network_mode and networks exclude each other"},
		{"unknown network_mode", stackWithApp("network_mode: mynet"), `instances.app.network_mode: network_mode "mynet" is not host`},
		{"bad attachment", stackWithApp("networks:\n  default: {aliases: 3}"), "instances.app.networks"},
		{"section default", "version: 1\nstack: {name: s}\nnetworks:\n  default: {}\n", `networks.default: "default" is the stack's own network`},
		{"section not a map", "version: 1\nstack: {name: s}\nnetworks: [a]\n", "networks must be a map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
