package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// NetworkKey is the config file section of the network settings:
//
//	network:
//	  subnet_pool: 10.128.0.0/9
//	  subnet_prefix: 24
//
// Each setting is also a flat key (network_subnet_pool, with the
// environment variable DEVARCH_NETWORK_SUBNET_POOL and the flag
// --network-subnet-pool), which the fields table lists.
const NetworkKey = "network"

// networkPrefix joins a setting of the network section to its flat key.
const networkPrefix = NetworkKey + "_"

// parseNetwork reads the network section v of config file name into
// values under the flat keys. seen records the flat keys set (and their
// lines) so a setting given both ways is a problem.
func parseNetwork(name string, v *yaml.Node, values map[string]any, seen map[string]int) []string {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("network in config file %q (line %d) must be a mapping such as \"network: {subnet_pool: 10.128.0.0/9}\".", name, v.Line)}
	}
	var problems []string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), deref(v.Content[i+1])
		at := fmt.Sprintf("config file %q (line %d)", name, k.Line)
		f, ok := lookupField(networkPrefix + k.Value)
		if k.Kind != yaml.ScalarNode || !ok || !strings.HasPrefix(f.key, networkPrefix) {
			problems = append(problems, fmt.Sprintf("Unknown key %q in the network section of %s; the network settings are %s.", k.Value, at, strings.Join(networkSettings(), ", ")))
			continue
		}
		if first, dup := seen[f.key]; dup {
			problems = append(problems, fmt.Sprintf("network.%s is set twice in config file %q (lines %d and %d); keep one.", k.Value, name, first, k.Line))
			continue
		}
		seen[f.key] = k.Line
		where := fmt.Sprintf("network.%s in %s", k.Value, at)
		switch {
		case val.Kind != yaml.ScalarNode:
			problems = append(problems, fmt.Sprintf("%s must be a single value, not a list or mapping.", where))
		case val.Tag == "!!null":
		default:
			parsed, complaint := f.parse(val.Value)
			if complaint != "" {
				problems = append(problems, f.describe(where, complaint, val.Value))
				continue
			}
			values[f.key] = parsed
		}
	}
	return problems
}

// networkSettings are the names of the network section's settings.
func networkSettings() []string {
	var out []string
	for _, f := range fields {
		if name, ok := strings.CutPrefix(f.key, networkPrefix); ok {
			out = append(out, name)
		}
	}
	return out
}

// SubnetPool is the controller-managed subnet pool the configuration
// sets (the zero pool when network.subnet_pool is empty). Call Validate
// first: an invalid pool is returned as none.
func (c Config) SubnetPool() spec.SubnetPool {
	p, _ := spec.ParseSubnetPool(c.NetworkSubnetPool, c.NetworkSubnetPrefix)
	return p
}

func validateNetwork(c Config) []string {
	_, problems := spec.ParseSubnetPool(c.NetworkSubnetPool, c.NetworkSubnetPrefix)
	return problems
}
