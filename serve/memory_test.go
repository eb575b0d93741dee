package serve

import (
	"runtime"
	"testing"
)

// TestMemoryLimitFollowsTheLiveHeap: the soft limit is MinMemoryLimit
// while the live heap is small, 1.5 times the live heap beyond, so a
// large installation is never held at its live size.
func TestMemoryLimitFollowsTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, MinMemoryLimit},
		{30 << 20, MinMemoryLimit},
		{MinMemoryLimit * 2 / 3, MinMemoryLimit},
		{100 << 20, 150 << 20},
		{1 << 30, 3 << 29},
	} {
		if got := memoryLimitFor(c.live); got != c.want {
			t.Errorf("limit for a live heap of %d bytes = %d, want %d", c.live, got, c.want)
		}
	}
	runtime.GC()
	if liveHeap() == 0 {
		t.Error("liveHeap reads 0: /gc/heap/live:bytes is not read")
	}
}
