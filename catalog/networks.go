package catalog

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// SharedNetwork is the network every devarch template joins
// (`microservices-net`, declared external): devarch's one network shared
// by all services. Its role is the stack's own network's, so a template's
// attachment to it is read as an attachment to the stack's network
// ("default"), and its definition is dropped.
const SharedNetwork = "microservices-net"

// networksPlaceholder names the service StackNetworks declares when no
// instance names networks (compose needs one).
const networksPlaceholder = "devarch-networks"

// networkKey is compose's rule for the keys of networks.
var networkKey = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// serviceNetworks reads the networks a template's service joins and the
// definitions of those networks from the file's top-level networks. A
// service that names none joins the stack's network ("default"). A
// definition of "default" is dropped with a warning: "default" is always
// the stack's own network.
func (m *mapper) serviceNetworks(svc types.ServiceConfig, p *types.Project) (spec.Networks, spec.NetworkDefinitions) {
	if svc.NetworkMode != "" {
		if err := CheckNetworkMode(svc.NetworkMode); err != nil {
			m.fail("network_mode", "%v", err)
		}
		return nil, nil
	}
	nets := spec.Networks{}
	var defs spec.NetworkDefinitions
	for _, key := range sortedKeys(svc.Networks) {
		a := project.AttachmentOf(svc.Networks[key])
		m.checkAttachment("networks."+key, a)
		def, defined := p.Networks[key]
		switch {
		case key == spec.DefaultNetwork:
			if defined && (bool(def.External) || def.Driver != "" || len(def.Ipam.Config) > 0) {
				m.ignore("networks", "the definition of network \"default\" is ignored: \"default\" is the stack's own network (devarch-<stack>-net or the stack's network_name)")
			}
		case key == SharedNetwork && bool(def.External):
			key = spec.DefaultNetwork
		default:
			if defs == nil {
				defs = spec.NetworkDefinitions{}
			}
			defs[key] = project.NetworkOf(def)
			m.checkDefinition("networks."+key, defs[key])
		}
		nets[key] = a
	}
	if nets.IsDefaultOnly() {
		return nil, nil
	}
	return nets.Canonical(), defs
}

// checkAttachment checks the addresses of an attachment.
func (m *mapper) checkAttachment(sub string, a *spec.NetworkAttachment) {
	if a == nil {
		return
	}
	for _, f := range []struct{ key, addr string }{{"ipv4_address", a.IPv4Address}, {"ipv6_address", a.IPv6Address}} {
		if f.addr == "" {
			continue
		}
		ip, err := netip.ParseAddr(f.addr)
		if err != nil || (f.key == "ipv4_address") != ip.Is4() {
			m.fail(sub+"."+f.key, "%q is not an IP%s address", f.addr, strings.TrimSuffix(strings.TrimPrefix(f.key, "ip"), "_address"))
		}
	}
	for _, ip := range a.LinkLocalIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			m.fail(sub+".link_local_ips", "%q is not an IP address", ip)
		}
	}
}

// checkDefinition checks a network definition's subnets.
func (m *mapper) checkDefinition(sub string, n spec.Network) {
	for _, s := range n.Subnets {
		if _, err := netip.ParsePrefix(s.Subnet); err != nil {
			m.fail(sub+".ipam.config", "subnet %q is not a CIDR prefix such as 172.28.0.0/16", s.Subnet)
		}
		if s.Gateway != "" {
			if _, err := netip.ParseAddr(s.Gateway); err != nil {
				m.fail(sub+".ipam.config", "gateway %q is not an IP address", s.Gateway)
			}
		}
	}
}

// CheckNetworkMode checks a network_mode: host, none, bridge,
// service:NAME or container:NAME. Compose also reads any other value as
// the name of a network to join; the controller asks for networks instead,
// so that the plan and the stack's networks know it.
func CheckNetworkMode(mode string) error {
	switch {
	case mode == "host", mode == "none", mode == "bridge":
		return nil
	case strings.HasPrefix(mode, types.NetworkModeServicePrefix), strings.HasPrefix(mode, types.ContainerPrefix):
		if _, name, _ := strings.Cut(mode, ":"); name != "" {
			return nil
		}
		return fmt.Errorf("network_mode %q names no service or container; write service:NAME or container:NAME", mode)
	}
	return fmt.Errorf("network_mode %q is not host, none, bridge, service:NAME or container:NAME; to join a network by name, list it under networks (with external: true in the networks section when it is made outside the stack)", mode)
}

// StackNetworks reads a stack file's networks: its top-level networks
// section (compose's top-level networks syntax) and each instance's
// networks (a list of keys or a map of attachments, compose's service
// networks syntax), with compose's own checks. section and instances hold
// decoded YAML (nil: not set); instances maps instance names to their
// networks. stackNetwork is the stack's own network's name: an instance
// entry naming it means "default", as earlier stack files wrote it. Keys
// the section does not define are kept: the instance's template may
// define them (see project.Attachments for keys nobody defines).
func StackNetworks(section any, instances map[string]any, stackNetwork string) (spec.NetworkDefinitions, map[string]spec.Networks, []spec.Problem) {
	sec, ok := section.(map[string]any)
	if section != nil && !ok {
		return nil, nil, []spec.Problem{{Field: "networks", Message: "networks must be a map of network definitions by key"}}
	}
	if len(sec) == 0 && len(instances) == 0 {
		return nil, nil, nil
	}
	if _, ok := sec[spec.DefaultNetwork]; ok {
		return nil, nil, []spec.Problem{{Field: "networks.default", Message: "\"default\" is the stack's own network and cannot be defined; set stack.network_name to name it, or use another key"}}
	}
	var problems []spec.Problem
	nets := maps.Clone(sec)
	if nets == nil {
		nets = map[string]any{}
	}
	services := map[string]any{}
	placeholders := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(instances)) {
		v, err := renameNetworkEntries(instances[name], stackNetwork)
		if err != nil {
			problems = append(problems, spec.Problem{Field: "instances." + name + ".networks", Message: err.Error()})
			continue
		}
		for _, k := range networkKeys(v) {
			if _, ok := nets[k]; !ok && k != spec.DefaultNetwork {
				nets[k] = nil
				placeholders[k] = true
			}
		}
		services[name] = map[string]any{"image": placeholderImage, "networks": v}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	if len(services) == 0 {
		services[networksPlaceholder] = map[string]any{"image": placeholderImage}
	}
	p, err := loadNetworks(map[string]any{"services": services, "networks": nets})
	if err != nil {
		return nil, nil, []spec.Problem{{Field: "networks", Message: err.Error()}}
	}
	defs := spec.NetworkDefinitions{}
	m := &mapper{file: "stack file"}
	for key, n := range p.Networks {
		if key == spec.DefaultNetwork || placeholders[key] {
			continue
		}
		defs[key] = project.NetworkOf(n)
		m.service = networksPlaceholder
		m.checkDefinition(key, defs[key])
	}
	out := map[string]spec.Networks{}
	for name := range instances {
		svc := p.Services[name]
		att := spec.Networks{}
		for key, c := range svc.Networks {
			a := project.AttachmentOf(c)
			m.service = name
			m.checkAttachment("networks."+key, a)
			att[key] = a
		}
		out[name] = att.Canonical()
	}
	for _, pr := range m.problems {
		pr.Field = strings.Replace(strings.TrimPrefix(pr.Field, "services."+networksPlaceholder+"."), "services.", "instances.", 1)
		if !strings.HasPrefix(pr.Field, "instances.") {
			pr.Field = "networks." + pr.Field
		}
		problems = append(problems, pr)
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return defs.Canonical(), out, nil
}

// renameNetworkEntries reads an instance's networks (a list of keys or a
// map), replacing the stack's network's own name by "default".
func renameNetworkEntries(v any, stackNetwork string) (any, error) {
	switch t := v.(type) {
	case []any:
		out := make([]any, 0, len(t))
		for _, item := range t {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("a list of networks holds network keys (strings), not %T", item)
			}
			if !networkKey.MatchString(s) {
				return nil, fmt.Errorf("network key %q is invalid; use letters, digits, '.', '_' and '-'", s)
			}
			if s == stackNetwork {
				s = spec.DefaultNetwork
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, item := range t {
			if !networkKey.MatchString(k) {
				return nil, fmt.Errorf("network key %q is invalid; use letters, digits, '.', '_' and '-'", k)
			}
			if k == stackNetwork {
				k = spec.DefaultNetwork
			}
			out[k] = item
		}
		return out, nil
	}
	return nil, fmt.Errorf("networks must be a list of network keys or a map of network keys to attachment settings (aliases, ipv4_address...), not %T", v)
}

func networkKeys(v any) []string {
	var keys []string
	switch t := v.(type) {
	case []any:
		for _, item := range t {
			if s, ok := item.(string); ok {
				keys = append(keys, s)
			}
		}
	case map[string]any:
		keys = slices.Collect(maps.Keys(t))
	}
	return keys
}

// loadNetworks loads a compose model made of placeholder services and
// networks with compose-go's checks.
func loadNetworks(model map[string]any) (*types.Project, error) {
	content, err := yaml.Marshal(model)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  "/",
		ConfigFiles: []types.ConfigFile{{Filename: "/stack/compose.yml", Content: content}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, loaderOptions("stack")...)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "services.", "instances.")
		msg = strings.ReplaceAll(msg, "validating /stack/compose.yml: ", "")
		return nil, fmt.Errorf("%s", msg)
	}
	return p, nil
}
