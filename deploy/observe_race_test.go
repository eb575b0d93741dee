package deploy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// TestSnapshotWhileContainersAreRemoved, on every engine: whole-engine
// snapshots taken while someone else removes labelled containers leave the
// removed ones out and do not fail. Docker answers an inspect of a
// container removed since the list 404; Podman answers 500 "no such
// container" when the removal happens while it answers (podmanNotFound).
func TestSnapshotWhileContainersAreRemoved(t *testing.T) {
	testenv.EachEngine(t, func(t *testing.T, en testenv.Engine) {
		f := newEngineFixture(t, en)
		const containers, observers = 60, 4
		foreign := newForeignContainers(t, f.rt)
		foreign.grow(containers)
		ids := append([]string(nil), foreign.ids...)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var (
			snapshots atomic.Int64
			wg        sync.WaitGroup
		)
		g, gctx := errgroup.WithContext(ctx)
		for range observers {
			g.Go(func() error {
				for gctx.Err() == nil {
					if _, err := f.rt.NewObserver().Snapshot(gctx); err != nil && gctx.Err() == nil {
						return fmt.Errorf("snapshot %d while containers were removed: %w", snapshots.Load()+1, err)
					}
					snapshots.Add(1)
				}
				return nil
			})
		}
		wg.Go(func() {
			defer cancel()
			// Removal starts once the observers have taken a snapshot
			// each (so that removals meet snapshots in progress), four
			// containers at a time.
			for snapshots.Load() < observers && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			rg, rctx := errgroup.WithContext(t.Context())
			rg.SetLimit(4)
			for _, id := range ids {
				rg.Go(func() error {
					_, _ = f.rt.Client().ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
					return nil
				})
			}
			_ = rg.Wait()
		})
		err := g.Wait()
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d snapshots while %d containers were removed", snapshots.Load(), containers)
	})
}
