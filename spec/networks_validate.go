package spec

import (
	"net/netip"
	"regexp"
	"strings"
)

// networkKeyPattern is compose's rule for network keys.
var networkKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// validateNetworks checks an effective spec's networks: keys, addresses,
// subnets and the network_mode's form.
func validateNetworks(prefix string, e Effective) []Problem {
	var ps problems
	for key, a := range e.Networks.Value {
		f := prefix + ".networks." + key
		if !networkKeyPattern.MatchString(key) {
			ps.add(prefix+".networks", "network key %q is invalid; use letters, digits, '.', '_' and '-'", key)
			continue
		}
		if a == nil {
			continue
		}
		if a.IPv4Address != "" {
			if ip, err := netip.ParseAddr(a.IPv4Address); err != nil || !ip.Is4() {
				ps.add(f+".ipv4_address", "%q is not an IPv4 address", a.IPv4Address)
			}
		}
		if a.IPv6Address != "" {
			if ip, err := netip.ParseAddr(a.IPv6Address); err != nil || !ip.Is6() {
				ps.add(f+".ipv6_address", "%q is not an IPv6 address", a.IPv6Address)
			}
		}
		for _, ip := range a.LinkLocalIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				ps.add(f+".link_local_ips", "%q is not an IP address", ip)
			}
		}
	}
	for key, n := range e.NetworkDefinitions {
		f := prefix + ".network_definitions." + key
		switch {
		case key == DefaultNetwork:
			ps.add(f, "\"default\" is the stack's own network and cannot be defined")
		case !networkKeyPattern.MatchString(key):
			ps.add(prefix+".network_definitions", "network key %q is invalid; use letters, digits, '.', '_' and '-'", key)
		}
		if n.External && n.Name != "" && !networkKeyPattern.MatchString(n.Name) {
			ps.add(f+".name", "network name %q is invalid; use letters, digits, '.', '_' and '-'", n.Name)
		}
		for _, s := range n.Subnets {
			if _, err := netip.ParsePrefix(s.Subnet); err != nil {
				ps.add(f+".subnets", "subnet %q is not a CIDR prefix such as 172.28.0.0/16", s.Subnet)
			}
		}
	}
	if m := e.Options.NetworkMode; m != "" {
		switch {
		case m == "host", m == "none", m == "bridge":
		case strings.HasPrefix(m, "service:") && len(m) > len("service:"), strings.HasPrefix(m, "container:") && len(m) > len("container:"):
		default:
			ps.add(prefix+".network_mode", "network_mode %q is not host, none, bridge, service:NAME or container:NAME", m)
		}
	}
	return ps
}

// networkModeRefs checks that every network_mode "service:NAME" names an
// instance of the stack other than its own.
func networkModeRefs(s Stack, names map[string]bool) []Problem {
	var ps problems
	for _, inst := range s.Instances {
		name, ok := strings.CutPrefix(inst.Effective.Options.NetworkMode, "service:")
		switch {
		case !ok:
		case name == inst.Name:
			ps.add("instances."+inst.Name+".network_mode", "network_mode %q names the instance itself; name another instance", "service:"+name)
		case !names[name]:
			ps.add("instances."+inst.Name+".network_mode", "network_mode %q names %q, which is not an instance of stack %q", "service:"+name, name, s.Name)
		}
	}
	return ps
}
