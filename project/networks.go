package project

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// StackNetwork is a network of a stack's project other than the stack's
// own (default) network: one an enabled instance joins.
type StackNetwork struct {
	// Key is the network's key in the instances' networks and in the
	// compose project.
	Key string
	// Name is the network's name on the engine: the definition's name for
	// an external network (its key when it has none), else
	// "devarch-<stack>-<key>".
	Name string
	// External networks exist outside the stack: apply checks that they
	// exist and never creates or removes them. The others belong to the
	// stack: apply creates them with Definition's settings.
	External   bool
	Definition spec.Network
}

// NetworkName is the engine name of the network key of stack s with
// definition def (see StackNetwork.Name).
func NetworkName(s spec.Stack, key string, def spec.Network) string {
	return s.NetworkNameOf(key, def)
}

// UndefinedNetwork is the warning for an instance that joins a network key
// no definition declares: the entry is ignored.
func UndefinedNetwork(instance, key string) string {
	return fmt.Sprintf("Instance %q joins network %q, which no network definition declares; the entry is ignored. Declare it in the stack's networks section (with external: true for a network made outside the stack).", instance, key)
}

// Attachments returns the networks an enabled instance's container joins,
// by key, as compose is told: none with a network_mode; the stack's own
// network alone when the instance names none; else the instance's
// networks whose keys are "default" or defined (the others are ignored
// with a warning, see UndefinedNetwork).
func Attachments(inst spec.Instance) (spec.Networks, []string) {
	e := inst.Effective
	if e.Options.NetworkMode != "" {
		return nil, nil
	}
	if len(e.Networks.Value) == 0 {
		return spec.Networks{spec.DefaultNetwork: nil}, nil
	}
	var warnings []string
	out := spec.Networks{}
	for _, key := range e.Networks.Value.Keys() {
		if _, ok := e.NetworkDefinitions[key]; !ok && key != spec.DefaultNetwork {
			warnings = append(warnings, UndefinedNetwork(inst.Name, key))
			continue
		}
		out[key] = e.Networks.Value[key]
	}
	if len(out) == 0 {
		out[spec.DefaultNetwork] = nil
	}
	return out, warnings
}

// Networks returns, sorted by key, the networks other than the stack's own
// that the stack's enabled instances join, and warnings about definitions
// that disagree (the first instance's, by name, is used).
func Networks(s spec.Stack) ([]StackNetwork, []string) {
	if !slices.ContainsFunc(s.Instances, func(inst spec.Instance) bool { return len(inst.Effective.Networks.Value) > 0 }) {
		return nil, nil
	}
	enabled := enabledInstances(s)
	byKey := map[string]StackNetwork{}
	owner := map[string]string{}
	var warnings []string
	for _, inst := range s.Instances {
		if !enabled[inst.Name] {
			continue
		}
		att, _ := Attachments(inst)
		for _, key := range att.Keys() {
			if key == spec.DefaultNetwork {
				continue
			}
			def := inst.Effective.NetworkDefinitions[key].Canonical()
			if had, ok := byKey[key]; ok {
				if !had.Definition.Equal(def) {
					warnings = append(warnings, fmt.Sprintf("Instances %q and %q define network %q differently; the definition of %q is used. Define the network once, in the stack's networks section.", owner[key], inst.Name, key, owner[key]))
				}
				continue
			}
			byKey[key] = StackNetwork{Key: key, Name: NetworkName(s, key, def), External: def.External, Definition: def}
			owner[key] = inst.Name
		}
	}
	out := make([]StackNetwork, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out, warnings
}

// serviceNetworks sets the networks (or network_mode) of an instance's
// compose service. A network_mode "service:NAME" makes the service depend
// on NAME, as compose orders it; when NAME is disabled or missing the
// stack cannot be applied as written (compose refuses it).
func serviceNetworks(svc *types.ServiceConfig, inst spec.Instance, enabled map[string]bool) ([]string, error) {
	if mode := inst.Effective.Options.NetworkMode; mode != "" {
		svc.NetworkMode = mode
		svc.Networks = nil
		target := networkModeRef(mode)
		switch {
		case target == inst.Name:
			return nil, fmt.Errorf("instance %q has network_mode %q, which names itself; name another instance", inst.Name, mode)
		case target != "" && !enabled[target]:
			return nil, fmt.Errorf("instance %q has network_mode %q, but %q is disabled or missing; enable it or change network_mode", inst.Name, mode, target)
		case target != "":
			if svc.DependsOn == nil {
				svc.DependsOn = types.DependsOnConfig{}
			}
			if _, ok := svc.DependsOn[target]; !ok {
				svc.DependsOn[target] = types.ServiceDependency{Condition: spec.ConditionStarted, Required: true}
			}
		}
		return nil, nil
	}
	att, warnings := Attachments(inst)
	svc.Networks = make(map[string]*types.ServiceNetworkConfig, len(att))
	for key, a := range att {
		svc.Networks[key] = serviceNetwork(a)
	}
	return warnings, nil
}

func serviceNetwork(a *spec.NetworkAttachment) *types.ServiceNetworkConfig {
	if a.IsZero() {
		return nil
	}
	return &types.ServiceNetworkConfig{
		Aliases:         clone(a.Aliases),
		DriverOpts:      types.Options(maps.Clone(a.DriverOpts)),
		GatewayPriority: a.GwPriority,
		Ipv4Address:     a.IPv4Address,
		Ipv6Address:     a.IPv6Address,
		LinkLocalIPs:    clone(a.LinkLocalIPs),
		MacAddress:      a.MacAddress,
		Priority:        a.Priority,
	}
}

// AttachmentOf reads a compose service's attachment to one network.
func AttachmentOf(c *types.ServiceNetworkConfig) *spec.NetworkAttachment {
	if c == nil {
		return nil
	}
	a := &spec.NetworkAttachment{
		Aliases:      clone(c.Aliases),
		IPv4Address:  c.Ipv4Address,
		IPv6Address:  c.Ipv6Address,
		LinkLocalIPs: clone(c.LinkLocalIPs),
		MacAddress:   c.MacAddress,
		Priority:     c.Priority,
		GwPriority:   c.GatewayPriority,
		DriverOpts:   maps.Clone(map[string]string(c.DriverOpts)),
	}
	if a.IsZero() {
		return nil
	}
	return a
}

// NetworkOf reads a compose file's top-level network definition.
func NetworkOf(n types.NetworkConfig) spec.Network {
	out := spec.Network{
		External:   bool(n.External),
		Driver:     n.Driver,
		DriverOpts: maps.Clone(map[string]string(n.DriverOpts)),
		Labels:     maps.Clone(map[string]string(n.Labels)),
		Internal:   n.Internal,
		Attachable: n.Attachable,
		EnableIPv6: n.EnableIPv6 != nil && *n.EnableIPv6,
	}
	if out.External {
		out.Name = n.Name
	}
	for _, p := range n.Ipam.Config {
		if p != nil {
			out.Subnets = append(out.Subnets, spec.Subnet{Subnet: p.Subnet, Gateway: p.Gateway, IPRange: p.IPRange})
		}
	}
	return out.Canonical()
}

// networkFields are an instance's attachments as record leaves: the key
// ("backend") → the network's engine name and, for a network the stack
// owns, its settings; "backend.aliases" and the like → the attachment's
// settings. Nil when the instance joins the stack's network alone with
// default settings (or has a network_mode): records of such instances
// are the ones made before instances joined several networks.
func networkFields(s spec.Stack, inst spec.Instance) map[string]string {
	if e := inst.Effective; len(e.Networks.Value) == 0 || e.Options.NetworkMode != "" {
		return nil
	}
	att, _ := Attachments(inst)
	if att.IsDefaultOnly() {
		return nil
	}
	out := map[string]string{}
	for key, a := range att {
		def := inst.Effective.NetworkDefinitions[key]
		v := NetworkName(s, key, def)
		if d := def.String(); key != spec.DefaultNetwork && !def.External && d != "" {
			v += " (" + d + ")"
		}
		out[key] = v
		for k, val := range a.Fields() {
			out[key+"."+k] = val
		}
	}
	return out
}

// networkModeRef returns the instance a network_mode "service:NAME"
// names, or "".
func networkModeRef(mode string) string {
	name, _ := strings.CutPrefix(mode, types.NetworkModeServicePrefix)
	if name == mode {
		return ""
	}
	return name
}
