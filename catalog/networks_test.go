package catalog

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// TestNetworksAgreeWithCompose: the networks of the controller's compose
// service for testdata/networks are compose-go's reading of the file,
// attachment by attachment, and the project declares each network.
func TestNetworksAgreeWithCompose(t *testing.T) {
	s := fixtureStack(t, "nets", "networks")
	p, err := project.Build(s, project.Options{StateDir: "/state", WorkspaceDir: "/ws"})
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range s.Instances {
		want := composeService(t, filepath.Join("testdata", "networks", inst.Name, "compose.yml"))
		got := p.Services[inst.Name]
		for _, c := range want.Networks {
			if c != nil {
				slices.Sort(c.Aliases) // a set: the controller keeps it sorted
			}
		}
		if !reflect.DeepEqual(got.Networks, want.Networks) {
			t.Errorf("%s: networks %s, compose-go reads %s", inst.Name, mustJSON(got.Networks), mustJSON(want.Networks))
		}
	}
	if n := p.Networks["backend"]; n.Name != "devarch-nets-backend" || !bool(n.External) {
		t.Errorf("project network backend: %+v, want devarch-nets-backend, external to compose", n)
	}
	nets, warnings := project.Networks(s)
	if len(warnings) > 0 || len(nets) != 1 {
		t.Fatalf("stack networks %+v, warnings %q", nets, warnings)
	}
	want := spec.Network{Driver: "bridge", Labels: map[string]string{"com.example.tier": "backend"}, Subnets: []spec.Subnet{{Subnet: "10.213.57.0/24", Gateway: "10.213.57.1"}}}
	if !nets[0].Definition.Equal(want) || nets[0].External {
		t.Errorf("backend's definition %+v, want %+v", nets[0].Definition, want)
	}
}

func TestTemplateNetworkProblems(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown network_mode", "services:\n  app:\n    image: x\n    network_mode: mynet\n",
			`services.app.network_mode: network_mode "mynet" is not host, none, bridge, service:NAME or container:NAME`},
		{"network_mode and networks", "services:\n  app:\n    image: x\n    network_mode: host\n    networks: [a]\nnetworks:\n  a: {}\n",
			"mutually exclusive"},
		{"bad address", "services:\n  app:\n    image: x\n    networks:\n      a: {ipv4_address: 10.0.0}\nnetworks:\n  a: {}\n",
			`services.app.networks.a.ipv4_address: "10.0.0" is not an IPv4 address`},
		{"bad subnet", "services:\n  app:\n    image: x\n    networks: [a]\nnetworks:\n  a:\n    ipam: {config: [{subnet: 10.0.0.0}]}\n",
			`subnet "10.0.0.0" is not a CIDR prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cat", "app")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "compose.yml")
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestTemplateNetworkModeService(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cat", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "compose.yml")
	if err := os.WriteFile(path, []byte("services:\n  app:\n    image: x\n    network_mode: service:vpn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Template.Spec.NetworkMode != "service:vpn" || res.Template.Spec.Networks != nil {
		t.Errorf("spec: network_mode %q networks %v", res.Template.Spec.NetworkMode, res.Template.Spec.Networks)
	}
}

func TestStackNetworks(t *testing.T) {
	section := map[string]any{
		"backend": map[string]any{"ipam": map[string]any{"config": []any{map[string]any{"subnet": "10.1.0.0/24"}}}},
		"proxy":   map[string]any{"external": true, "name": "traefik"},
	}
	instances := map[string]any{
		"api": []any{"custom-net", "backend"},
		"web": map[string]any{"proxy": map[string]any{"aliases": []any{"web"}}, "backend": nil, "from-template": nil},
	}
	defs, atts, problems := StackNetworks(section, instances, "custom-net")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	wantDefs := spec.NetworkDefinitions{"backend": {Subnets: []spec.Subnet{{Subnet: "10.1.0.0/24"}}}, "proxy": {External: true, Name: "traefik"}}
	if !reflect.DeepEqual(defs, wantDefs) {
		t.Errorf("definitions %+v, want %+v", defs, wantDefs)
	}
	wantAtts := map[string]spec.Networks{
		"api": {"default": nil, "backend": nil},
		"web": {"proxy": {Aliases: []string{"web"}}, "backend": nil, "from-template": nil},
	}
	if !reflect.DeepEqual(atts, wantAtts) {
		t.Errorf("attachments %+v, want %+v", atts, wantAtts)
	}
}

func TestStackNetworksProblems(t *testing.T) {
	tests := []struct {
		name      string
		section   any
		instances map[string]any
		want      string
	}{
		{"default defined", map[string]any{"default": map[string]any{}}, nil, `networks.default: "default" is the stack's own network`},
		{"section not a map", []any{"a"}, nil, "networks must be a map"},
		{"bad key", nil, map[string]any{"api": []any{"a b"}}, `instances.api.networks: network key "a b" is invalid`},
		{"not a list or map", nil, map[string]any{"api": "a"}, "networks must be a list of network keys or a map"},
		{"bad address", nil, map[string]any{"api": map[string]any{"default": map[string]any{"ipv4_address": "x"}}}, `instances.api.networks.default.ipv4_address: "x" is not an IPv4 address`},
		{"bad subnet", map[string]any{"b": map[string]any{"ipam": map[string]any{"config": []any{map[string]any{"subnet": "x"}}}}}, nil, `networks.b.ipam.config: subnet "x" is not a CIDR prefix`},
		{"unknown attachment key", nil, map[string]any{"api": map[string]any{"default": map[string]any{"alias": "x"}}}, "alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, problems := StackNetworks(tt.section, tt.instances, "devarch-s-net")
			var got []string
			for _, p := range problems {
				got = append(got, p.Field+": "+p.Message)
			}
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// FuzzStackNetworks: any YAML as a stack file's networks section and an
// instance's networks gives definitions and attachments or problems,
// never a panic, and what it accepts names only valid keys.
func FuzzStackNetworks(f *testing.F) {
	f.Add("backend:\n  ipam:\n    config:\n      - subnet: 10.1.0.0/24\nproxy:\n  external: true\n  name: traefik\n", "[default, backend]")
	f.Add("", "proxy:\n  aliases: [a]\n  ipv4_address: 10.0.0.2\n")
	f.Add("a: {driver: bridge, internal: true, enable_ipv6: true}", "{a: null}")
	f.Add("default: {}", "[x]")
	f.Fuzz(func(t *testing.T, section, inst string) {
		var sec, att any
		if yaml.Unmarshal([]byte(section), &sec) != nil || yaml.Unmarshal([]byte(inst), &att) != nil {
			return
		}
		instances := map[string]any{}
		if att != nil {
			instances["api"] = att
		}
		defs, atts, problems := StackNetworks(sec, instances, "devarch-s-net")
		if len(problems) > 0 {
			if defs != nil || atts != nil {
				t.Fatalf("problems %v with results", problems)
			}
			return
		}
		for k := range defs {
			if !networkKey.MatchString(k) || k == spec.DefaultNetwork {
				t.Fatalf("definition key %q", k)
			}
		}
		for k := range atts["api"] {
			if !networkKey.MatchString(k) {
				t.Fatalf("attachment key %q", k)
			}
		}
	})
}
