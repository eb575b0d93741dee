package spec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// DefaultNetwork is the key of a stack's own network in an instance's
// networks: the network every instance joins unless it names others
// ("devarch-<stack>-net" or the stack's network_name).
const DefaultNetwork = "default"

// NetworkNameOf is the engine name of the stack's network key with
// definition def: the stack's own network for "default"; an external
// network's name (its key when it has none); else
// "devarch-<stack>-<key>", a network the stack owns.
func (s Stack) NetworkNameOf(key string, def Network) string {
	switch {
	case key == DefaultNetwork:
		return s.Network()
	case def.External && def.Name != "":
		return def.Name
	case def.External:
		return key
	}
	return "devarch-" + s.Name + "-" + key
}

// Networks are a service's network attachments by network key, as in a
// compose service's `networks`: "default" is the stack's own network,
// any other key names a network definition (see Network). A nil
// attachment joins the network with default settings. An empty or nil
// Networks means "the stack's network only".
//
// In JSON it is a map; it also reads the list of keys an earlier format
// stored (["a", "b"]).
type Networks map[string]*NetworkAttachment

// UnmarshalJSON reads the map form or the list form.
func (n *Networks) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var keys []string
		if err := json.Unmarshal(b, &keys); err != nil {
			return fmt.Errorf("networks must be a list of network names or a map of attachments: %w", err)
		}
		out := make(Networks, len(keys))
		for _, k := range keys {
			out[k] = nil
		}
		*n = out
		return nil
	}
	var m map[string]*NetworkAttachment
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("networks must be a list of network names or a map of attachments: %w", err)
	}
	*n = m
	return nil
}

// Keys returns the network keys, sorted.
func (n Networks) Keys() []string { return slices.Sorted(maps.Keys(n)) }

// IsDefaultOnly reports whether n joins the stack's network alone, with
// default settings: what a service that lists no networks does.
func (n Networks) IsDefaultOnly() bool {
	if len(n) == 0 {
		return true
	}
	a, ok := n[DefaultNetwork]
	return ok && len(n) == 1 && a.IsZero()
}

// Canonical returns a copy of n whose lists are sorted sets, whose empty
// attachments are nil and whose empty maps are nil; nil for an empty n.
func (n Networks) Canonical() Networks {
	if len(n) == 0 {
		return nil
	}
	out := make(Networks, len(n))
	for k, a := range n {
		out[k] = a.canonical()
	}
	return out
}

// NetworkAttachment is how a service joins one network: compose's
// per-network service settings.
type NetworkAttachment struct {
	Aliases      []string          `json:"aliases,omitempty"`
	IPv4Address  string            `json:"ipv4_address,omitempty"`
	IPv6Address  string            `json:"ipv6_address,omitempty"`
	LinkLocalIPs []string          `json:"link_local_ips,omitempty"`
	MacAddress   string            `json:"mac_address,omitempty"`
	Priority     int               `json:"priority,omitempty"`
	GwPriority   int               `json:"gw_priority,omitempty"`
	DriverOpts   map[string]string `json:"driver_opts,omitempty"`
}

// IsZero reports whether a sets nothing (nil included).
func (a *NetworkAttachment) IsZero() bool {
	return a == nil || (len(a.Aliases) == 0 && a.IPv4Address == "" && a.IPv6Address == "" && len(a.LinkLocalIPs) == 0 &&
		a.MacAddress == "" && a.Priority == 0 && a.GwPriority == 0 && len(a.DriverOpts) == 0)
}

func (a *NetworkAttachment) canonical() *NetworkAttachment {
	if a.IsZero() {
		return nil
	}
	c := *a
	c.Aliases = sortedSet(a.Aliases)
	c.LinkLocalIPs = sortedSet(a.LinkLocalIPs)
	if len(a.DriverOpts) == 0 {
		c.DriverOpts = nil
	} else {
		c.DriverOpts = maps.Clone(a.DriverOpts)
	}
	return &c
}

// Fields returns the attachment's settings as plan leaves: name ("aliases",
// "ipv4_address", "driver_opts.X") → value as text.
func (a *NetworkAttachment) Fields() map[string]string {
	out := map[string]string{}
	if a == nil {
		return out
	}
	set := func(k, v string) {
		if v != "" && v != "0" {
			out[k] = v
		}
	}
	set("aliases", strings.Join(a.Aliases, ", "))
	set("ipv4_address", a.IPv4Address)
	set("ipv6_address", a.IPv6Address)
	set("link_local_ips", strings.Join(a.LinkLocalIPs, ", "))
	set("mac_address", a.MacAddress)
	set("priority", strconv.Itoa(a.Priority))
	set("gw_priority", strconv.Itoa(a.GwPriority))
	for k, v := range a.DriverOpts {
		out["driver_opts."+k] = v
	}
	return out
}

// Network is the definition of a network a service joins, as a compose
// file's top-level `networks` entry. An external network exists on the
// engine already (a shared reverse-proxy network, say): the controller
// attaches containers to it by its Name and never creates or removes it.
// Any other network belongs to the stack: the controller creates it
// ("devarch-<stack>-<key>", or Name when set) with these settings and the
// stack's labels.
type Network struct {
	Name       string            `json:"name,omitempty"`
	External   bool              `json:"external,omitempty"`
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Attachable bool              `json:"attachable,omitempty"`
	EnableIPv6 bool              `json:"enable_ipv6,omitempty"`
	// Subnets are the IPAM pools (ipam.config).
	Subnets []Subnet `json:"subnets,omitempty"`
}

// Subnet is one IPAM pool of a network.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
	IPRange string `json:"ip_range,omitempty"`
}

// Canonical returns a copy with empty maps nil and subnets sorted.
func (n Network) Canonical() Network {
	if len(n.DriverOpts) == 0 {
		n.DriverOpts = nil
	} else {
		n.DriverOpts = maps.Clone(n.DriverOpts)
	}
	if len(n.Labels) == 0 {
		n.Labels = nil
	} else {
		n.Labels = maps.Clone(n.Labels)
	}
	if len(n.Subnets) == 0 {
		n.Subnets = nil
	} else {
		n.Subnets = slices.Clone(n.Subnets)
		slices.SortFunc(n.Subnets, func(a, b Subnet) int { return cmp.Compare(a.Subnet, b.Subnet) })
	}
	return n
}

// Equal reports whether two definitions are the same.
func (n Network) Equal(o Network) bool {
	a, _ := json.Marshal(n.Canonical())
	b, _ := json.Marshal(o.Canonical())
	return bytes.Equal(a, b)
}

// String describes the definition for plans and messages.
func (n Network) String() string {
	if n.External {
		return "external " + n.Name
	}
	var parts []string
	if n.Driver != "" && n.Driver != "bridge" {
		parts = append(parts, "driver "+n.Driver)
	}
	for _, s := range n.Subnets {
		parts = append(parts, "subnet "+s.Subnet)
	}
	if n.Internal {
		parts = append(parts, "internal")
	}
	if n.EnableIPv6 {
		parts = append(parts, "ipv6")
	}
	return strings.Join(parts, ", ")
}

// NetworkDefinitions are network definitions by key.
type NetworkDefinitions map[string]Network

// Canonical returns a canonical copy, nil when empty.
func (d NetworkDefinitions) Canonical() NetworkDefinitions {
	if len(d) == 0 {
		return nil
	}
	out := make(NetworkDefinitions, len(d))
	for k, n := range d {
		out[k] = n.Canonical()
	}
	return out
}

// mergeNetworks returns the effective networks of an instance: the
// override's attachments replace the template's whole when it sets any
// (like ports and volumes); definitions merge by key, the override's
// winning.
func mergeNetworks(tmpl, user ServiceSpec) (Value[Networks], NetworkDefinitions) {
	v := Value[Networks]{Value: tmpl.Networks.Canonical(), Source: SourceTemplate}
	if len(user.Networks) > 0 {
		v = Value[Networks]{Value: user.Networks.Canonical(), Source: SourceUser}
	}
	var defs NetworkDefinitions
	for _, d := range []NetworkDefinitions{tmpl.NetworkDefinitions, user.NetworkDefinitions} {
		for k, n := range d {
			if defs == nil {
				defs = NetworkDefinitions{}
			}
			defs[k] = n.Canonical()
		}
	}
	return v, defs
}
