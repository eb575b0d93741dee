package reconcile

import (
	"context"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// Lifecycle finalises deleted stacks and tells which stacks exist
// (implemented by *state.Store).
type Lifecycle interface {
	// FinalizeStack marks a deleting stack removed; false when it was not
	// deleting.
	FinalizeStack(ctx context.Context, id int64) (bool, error)
	// KnownStackIDs returns the ids of the live and deleting stacks.
	KnownStackIDs(ctx context.Context) (map[int64]bool, error)
}

// Orphan kinds: the kind label of devarch_orphans.
const (
	orphanContainer = "container"
	orphanNetwork   = "network"
)

var orphanKinds = []string{orphanContainer, orphanNetwork}

// finalizeIfRemoved finalises a deleting stack whose plan is empty (its
// removal was applied, or it never had anything on the engine) and no
// approval of which is applying, and reports whether it did: the stack is
// then forgotten. A live stack is never touched.
func (c *Controller) finalizeIfRemoved(ctx context.Context, s spec.Stack, p *plan.Plan, applying bool) bool {
	if !s.Deleting || p == nil || !p.Empty() || applying || c.d.Lifecycle == nil {
		return false
	}
	return c.finalize(ctx, s.ID, c.log.With(zap.String("stack", s.Name)))
}

// finalize marks a deleting stack removed and forgets it; it reports
// whether the stack was finalised. A failure is logged: the next pass
// tries again.
func (c *Controller) finalize(ctx context.Context, id int64, log *zap.Logger) bool {
	if c.d.Lifecycle == nil {
		return false
	}
	done, err := c.d.Lifecycle.FinalizeStack(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("cannot finalise the removed stack; retrying at the next pass", zap.NamedError("err", err))
		}
		return false
	}
	if done {
		log.Info("stack removed: nothing with its labels is left on the engine", zap.Int64("stack_id", id))
		c.forget(id)
	}
	return done
}

// orphanStack returns the apply option that tells an orphaned stack id
// (nil without a Lifecycle: nothing is adopted).
func (c *Controller) orphanStack() func(ctx context.Context, id int64) (bool, error) {
	if c.d.Lifecycle == nil {
		return nil
	}
	return func(ctx context.Context, id int64) (bool, error) {
		known, err := c.d.Lifecycle.KnownStackIDs(ctx)
		if err != nil {
			return false, err
		}
		return !known[id], nil
	}
}

// countOrphans sets devarch_orphans from a snapshot: labeled containers
// and networks whose stack id is not a live or deleting stack's.
func (c *Controller) countOrphans(ctx context.Context, snap deploy.Snapshot) {
	if c.d.Lifecycle == nil {
		return
	}
	known, err := c.d.Lifecycle.KnownStackIDs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cannot list stack ids; orphans not counted", zap.NamedError("err", err))
		}
		return
	}
	o := deploy.FindOrphans(snap, known)
	c.metrics.orphans.WithLabelValues(orphanContainer).Set(float64(len(o.Containers)))
	c.metrics.orphans.WithLabelValues(orphanNetwork).Set(float64(len(o.Networks)))
}
