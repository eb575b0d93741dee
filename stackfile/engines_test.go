package stackfile

import (
	"strings"
	"testing"
)

// TestStackEngine: stack.engine is read into the stack, exported back,
// and a name that cannot be an engine's is refused.
func TestStackEngine(t *testing.T) {
	const doc = "version: 1\nstack:\n  name: shop\n  engine: edge-1\ninstances:\n  web:\n    template: nginx\n    image: nginx:1.27\n"
	f, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Stack.Engine != "edge-1" {
		t.Errorf("Engine = %q; want edge-1", f.Stack.Engine)
	}
	f, err = Parse([]byte(strings.Replace(doc, "  engine: edge-1\n", "", 1)), nil)
	if err != nil || f.Stack.Engine != "" {
		t.Errorf("without engine: %q, %v; want the default (empty)", f.Stack.Engine, err)
	}
	_, err = Parse([]byte(strings.Replace(doc, "edge-1", "Edge One", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "stack.engine") || !strings.Contains(err.Error(), `"Edge One"`) {
		t.Errorf("invalid engine name: %v; want an error on stack.engine naming it", err)
	}
}
