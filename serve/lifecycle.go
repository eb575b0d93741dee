package serve

import (
	"context"
	"fmt"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/state"
)

// orphanLister lists orphans for the API: one engine snapshot (through
// an observer of its own, which keeps its inspects between requests),
// compared with the stacks of the database.
type orphanLister struct {
	store *state.Store
	obs   interface {
		Snapshot(ctx context.Context) (deploy.Snapshot, error)
	}
}

func (o orphanLister) Orphans(ctx context.Context) (deploy.Orphans, error) {
	snap, err := o.obs.Snapshot(ctx)
	if err != nil {
		return deploy.Orphans{}, fmt.Errorf("observe the engine: %w", err)
	}
	known, err := o.store.KnownStackIDs(ctx)
	if err != nil {
		return deploy.Orphans{}, err
	}
	return deploy.FindOrphans(snap, known), nil
}
