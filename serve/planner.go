package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
)

// newPlanner returns the API's planner: a stack's desired state against
// the observer's snapshot of the runtime (the observer the loop keeps
// current), computed now.
func newPlanner(observer *deploy.Observer) api.Planner {
	return func(ctx context.Context, d plan.Desired) (*plan.Plan, error) {
		snap, err := observer.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("observe containers: %w", err)
		}
		return plan.Compute(d, snap.For(d.Stack), time.Now())
	}
}
