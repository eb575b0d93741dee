package stackfile

import (
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// build reads an instance's build section, written as in a compose file;
// a relative context resolves against the stack file's folder.
func (b *builder) build(field string, n *yaml.Node) *spec.Build {
	if n == nil || n.Kind == 0 {
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		b.fail(field, "line %d: %v", n.Line, err)
		return nil
	}
	b.literalSecretRefs(field, v)
	out, warnings, problems := catalog.BuildSection(field, v, b.dir)
	b.problems = append(b.problems, problems...)
	b.warnings = append(b.warnings, warnings...)
	return out
}
