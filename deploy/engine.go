package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/plan"
)

// engineInfoTTL is how long the engine's description is reused: its
// runtimes and storage change only when the engine is reconfigured and
// restarted.
const engineInfoTTL = time.Minute

// Engine describes the engine for plans (plan.Engine): its API version,
// runtimes and storage. It asks the engine at most once a minute.
func (r *Runtime) Engine(ctx context.Context) (plan.Engine, error) {
	r.engineMu.Lock()
	defer r.engineMu.Unlock()
	if !r.engineAt.IsZero() && time.Since(r.engineAt) < engineInfoTTL {
		return r.engine, nil
	}
	info, err := r.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return plan.Engine{}, fmt.Errorf("describe engine: %w", err)
	}
	e := plan.Engine{
		APIVersion:    r.cli.ClientVersion(),
		Runtimes:      slices.Sorted(maps.Keys(info.Info.Runtimes)),
		StorageDriver: info.Info.Driver,
	}
	if e.Kind, err = r.engineKind(ctx); err != nil {
		return plan.Engine{}, err
	}
	for _, kv := range info.Info.DriverStatus {
		if kv[0] == "Backing Filesystem" {
			e.BackingFilesystem = kv[1]
		}
	}
	r.engine, r.engineAt = e, time.Now()
	return e, nil
}
