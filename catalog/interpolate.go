package catalog

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// unescapeDollars is the substitution compose-go applies to every string
// value: "$$" becomes "$" and every other "$" is kept as written, so
// ${VAR} and $VAR references reach the container literally.
func unescapeDollars(s string, _ template.Mapping) (string, error) {
	if !strings.Contains(s, "$$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			i++
		}
	}
	return b.String(), nil
}

var escapedGroup = template.DefaultPattern.SubexpIndex("escaped")

// variableRefs returns the compose variable references in s that are not
// escaped with "$$", as written ("$c", "${FOO}", "${FOO:-x}").
func variableRefs(s string) []string {
	var refs []string
	for _, m := range template.DefaultPattern.FindAllStringSubmatchIndex(s, -1) {
		if m[2*escapedGroup] >= 0 {
			continue
		}
		refs = append(refs, s[m[0]:m[1]])
	}
	return refs
}

// variableWarnings reports every unescaped variable reference in the file.
// Compose would substitute them from the shell and .env; the controller keeps
// them literally. It is diagnostics only: a document it cannot read yields
// no warnings (compose-go has already accepted the file).
func variableWarnings(file string, content []byte) []Warning {
	var out []Warning
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return out // io.EOF, or a document compose-go read differently
		}
		walkScalars(&doc, "", func(key, value string) {
			refs := slices.Compact(slices.Sorted(slices.Values(variableRefs(value))))
			if len(refs) == 0 {
				return
			}
			out = append(out, Warning{File: file, Key: key, Message: fmt.Sprintf(
				"%s kept literally because the controller does not interpolate compose variables; write $$ for a literal $ to silence this warning, or write the value itself",
				strings.Join(refs, ", ")+map[bool]string{true: " is", false: " are"}[len(refs) == 1])})
		})
	}
}

// walkScalars calls fn with the path and value of every scalar value under
// n. Aliases are not followed: their anchors are visited where defined.
func walkScalars(n *yaml.Node, path string, fn func(key, value string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkScalars(c, path, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			walkScalars(n.Content[i+1], k, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkScalars(c, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case yaml.ScalarNode:
		fn(path, n.Value)
	}
}
