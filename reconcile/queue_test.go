package reconcile

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestQueueDeduplicatesWaitingKeys(t *testing.T) {
	q := newQueue()
	q.Add(1)
	q.Add(1)
	q.Add(2)
	q.Add(1)
	if q.Len() != 2 {
		t.Fatalf("len = %d, want 2", q.Len())
	}
	for _, want := range []int64{1, 2} {
		if k, ok := q.Get(); !ok || k != want {
			t.Fatalf("Get = %d,%v want %d", k, ok, want)
		}
	}
}

func TestQueueNeverHandsAKeyToTwoWorkers(t *testing.T) {
	q := newQueue()
	q.Add(1)
	k, _ := q.Get()
	q.Add(1) // while processing: must wait for Done
	if q.Len() != 0 {
		t.Fatalf("key handed out again while processing")
	}
	q.Done(k)
	if q.Len() != 1 {
		t.Fatalf("key added during processing was lost")
	}
}

func TestQueueConcurrentWorkers(t *testing.T) {
	q := newQueue()
	var active [10]atomic.Int32
	var overlaps, processed atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, ok := q.Get()
				if !ok {
					return
				}
				if active[k].Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(100 * time.Microsecond)
				active[k].Add(-1)
				processed.Add(1)
				q.Done(k)
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		q.Add(int64(i % 10))
	}
	deadline := time.Now().Add(10 * time.Second)
	for q.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	q.ShutDown()
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d times a key was processed by two workers at once", overlaps.Load())
	}
	if processed.Load() < 10 {
		t.Fatalf("processed %d, want at least every key once", processed.Load())
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 500 * time.Millisecond, 1: time.Second, 2: 2 * time.Second, 10: MaxDelay, 1000: MaxDelay} {
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestRetryAndForget(t *testing.T) {
	q := newQueue()
	if d := q.Retry(7); d != BaseDelay {
		t.Fatalf("first retry delay = %v", d)
	}
	if d := q.Retry(7); d != 2*BaseDelay {
		t.Fatalf("second retry delay = %v", d)
	}
	q.Forget(7)
	if d := q.Retry(7); d != BaseDelay {
		t.Fatalf("retry after forget = %v", d)
	}
	q.ShutDown()
}

func TestAddAfterDelivers(t *testing.T) {
	q := newQueue()
	q.AddAfter(3, 20*time.Millisecond)
	if q.Len() != 0 {
		t.Fatal("delayed key ready too early")
	}
	done := make(chan int64)
	go func() { k, _ := q.Get(); done <- k }()
	select {
	case k := <-done:
		if k != 3 {
			t.Fatalf("got %d", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("delayed key never delivered")
	}
	q.ShutDown()
}

func TestShutDownReleasesGet(t *testing.T) {
	q := newQueue()
	done := make(chan bool)
	go func() { _, ok := q.Get(); done <- ok }()
	time.Sleep(10 * time.Millisecond)
	q.ShutDown()
	if <-done {
		t.Fatal("Get returned ok after shutdown")
	}
}

func TestJitterBounds(t *testing.T) {
	q := newQueue()
	for _, j := range []float64{0, 0.5, 0.999} {
		q.jitter = func() float64 { return j }
		d := q.Jittered(30 * time.Second)
		if d < 27*time.Second || d > 33*time.Second {
			t.Errorf("jitter %v gave %v", j, d)
		}
	}
}
