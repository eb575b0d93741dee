package serve

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"
)

// Memory limit of a serve process (see LimitMemory).
const (
	// MinMemoryLimit is the soft limit of the Go heap while the live heap
	// is small: a thousand stacks of five containers need about 30 MiB
	// live, and the collector's default pacing (GOGC=100) would let
	// short-lived garbage of a full pass double that, and more.
	MinMemoryLimit = 64 << 20
	// memoryLimitHeadroom: once the live heap grows, the limit is the
	// live heap times 1.5, so that a large installation is never held
	// close to its live size (where the collector would run without
	// pause).
	memoryLimitHeadroom = 1.5
	// memoryLimitEvery is how often the limit follows the live heap.
	memoryLimitEvery = 10 * time.Second
)

// LimitMemory gives the process a soft memory limit
// (runtime/debug.SetMemoryLimit) of MinMemoryLimit, or 1.5 times the
// live heap when that is more, checked every 10 s until ctx ends. The
// collector then returns garbage early instead of letting the heap reach
// twice its live size, which bounds a controller's resident memory
// (VmHWM) without a hard cap: the limit only ever asks for more frequent
// collections. A GOMEMLIMIT in the environment is the user's choice and
// is left as it is. Call it once per process (serve's command does).
func LimitMemory(ctx context.Context, log *zap.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", zap.String("gomemlimit", os.Getenv("GOMEMLIMIT")))
		return
	}
	set := func() int64 {
		limit := memoryLimitFor(liveHeap())
		debug.SetMemoryLimit(limit)
		return limit
	}
	log.Debug("soft memory limit", zap.Int64("bytes", set()))
	go func() {
		t := time.NewTicker(memoryLimitEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}

// memoryLimitFor is the soft limit for a live heap of live bytes.
func memoryLimitFor(live uint64) int64 {
	return max(MinMemoryLimit, int64(float64(live)*memoryLimitHeadroom))
}

// liveHeap is the heap the last collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
