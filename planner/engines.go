package planner

import (
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// movedRemovals names the plan's engine when the controller has several,
// and adds the removal of the stack's containers on the other engines
// that answered (a stack that moved: remove on the old engine, add on the
// new one). A single engine's snapshot changes nothing.
func movedRemovals(p *plan.Plan, s spec.Stack, snap deploy.Snapshot) {
	engine := snap.EngineOf(s)
	if engine == "" {
		return
	}
	p.Engine = engine
	for _, other := range snap.EngineNames {
		if other == engine {
			continue
		}
		if sub, ok := snap.Engines[other]; ok {
			plan.MovedRemovals(p, s, other, sub.Containers[s.ID])
		}
	}
}
