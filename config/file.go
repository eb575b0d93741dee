package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseFile reads the YAML config file held in data (name is only for
// messages) into parsed values by key. It checks every key strictly: keys
// are case-sensitive, unknown or repeated keys are problems, and so are
// values that are lists, mappings or do not parse as the key's type. A null
// value (`workers:` or `workers: ~`) leaves the key unset.
//
// It reports every problem it finds, each as a full sentence.
func parseFile(name string, data []byte) (map[string]any, []string) {
	root, problem := fileRoot(name, data)
	if problem != "" {
		return nil, []string{problem}
	}
	if root == nil {
		return nil, nil
	}

	values := make(map[string]any)
	seen := make(map[string]int) // key → line
	var problems []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		at := fmt.Sprintf("config file %q (line %d)", name, k.Line)
		if k.Kind != yaml.ScalarNode {
			problems = append(problems, fmt.Sprintf("A key in %s is not a plain name; write keys such as \"workers: 2\".", at))
			continue
		}
		if k.Value == EnginesKey {
			if _, dup := seen[k.Value]; dup {
				problems = append(problems, fmt.Sprintf("engines is set twice in config file %q; keep one.", name))
				continue
			}
			seen[k.Value] = k.Line
			engines, p := parseEngines(name, v)
			problems = append(problems, p...)
			values[EnginesKey] = engines
			continue
		}
		if k.Value == NetworkKey {
			problems = append(problems, parseNetwork(name, v, values, seen)...)
			continue
		}
		f, ok := lookupField(k.Value)
		if !ok {
			problems = append(problems, unknownKey(k.Value, at))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			problems = append(problems, fmt.Sprintf("%s is set twice in config file %q (lines %d and %d); keep one.", k.Value, name, first, k.Line))
			continue
		}
		seen[k.Value] = k.Line
		where := fmt.Sprintf("%s in %s", k.Value, at)
		switch {
		case v.Kind != yaml.ScalarNode:
			problems = append(problems, fmt.Sprintf("%s must be a single value, not a list or mapping.", where))
		case v.Tag == "!!null":
			// Unset: defaults (or the environment, or flags) apply.
		default:
			parsed, complaint := f.parse(v.Value)
			if complaint != "" {
				problems = append(problems, f.describe(where, complaint, v.Value))
				continue
			}
			values[f.key] = parsed
		}
	}
	return values, problems
}

// fileRoot decodes data and returns its top-level mapping, nil for an empty
// file, or a problem sentence.
func fileRoot(name string, data []byte) (*yaml.Node, string) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ""
		}
		return nil, fmt.Sprintf("Config file %q is not valid YAML: %s.", name, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Sprintf("Config file %q must hold exactly one YAML document; remove everything after the first \"---\".", name)
	}
	if len(doc.Content) == 0 {
		return nil, ""
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, ""
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Sprintf("Config file %q must be a mapping of keys to values, such as \"workers: 2\".", name)
	}
	return root, ""
}

// deref follows YAML aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// yamlMessage strips the "yaml: " prefix from a parser error.
func yamlMessage(err error) string {
	return strings.TrimSuffix(strings.TrimPrefix(err.Error(), "yaml: "), ".")
}

// unknownKey phrases the problem for an unknown key, suggesting the key the
// user probably meant.
func unknownKey(key, at string) string {
	msg := fmt.Sprintf("Unknown key %q in %s", key, at)
	if s := suggest(key); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + "; see docs/configuration.md for the keys."
}

// suggest returns the known key closest to key, or "" when none is close.
func suggest(key string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(key))
	best, bestDist := "", len(norm)/3+1
	for _, f := range fields {
		if f.key == norm {
			return f.key
		}
		if d := editDistance(norm, f.key); d <= bestDist {
			best, bestDist = f.key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
