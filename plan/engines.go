package plan

import (
	"fmt"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// MovedRemovals adds to p the removal of the containers stack s left on
// engine, another engine than the one p is on: the stack moved, and its
// apply removes them there once the stack runs on its new engine. Each
// change names engine.
func MovedRemovals(p *Plan, s spec.Stack, engine string, containers []spec.Container) {
	for _, c := range containers {
		name := strings.TrimPrefix(c.Name, "/")
		for _, inst := range s.Instances {
			if inst.ID == c.InstanceID {
				name = inst.Name
			}
		}
		ch := removal(name, c.InstanceID, c, fmt.Sprintf("the stack moved from engine %q to engine %q; apply removes it from %q", engine, p.Engine, engine))
		ch.Engine = engine
		ch.Fields = []FieldChange{{Path: "stack.engine", Old: str(engine), New: str(p.Engine), Source: spec.SourceUser}}
		p.Changes = append(p.Changes, ch)
		p.Summary.Remove++
	}
}
