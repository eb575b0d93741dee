package reconcile

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff numbers for a stack whose reconcile fails: the first retry waits
// BaseDelay, each further failure doubles the wait, up to MaxDelay. A
// success forgets the stack's failures.
const (
	BaseDelay = 500 * time.Millisecond
	MaxDelay  = 5 * time.Minute
)

// queue is a work queue keyed by stack id, in the manner of Kubernetes'
// workqueue: adding a key that is already waiting is a no-op; a key is
// never handed to two workers at once (a key added while it is being
// processed is handed out again after Done); failed keys come back after a
// per-key exponential backoff.
type queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	order      []int64        // keys ready to be processed, FIFO
	queued     map[int64]bool // keys in order
	processing map[int64]bool // keys handed to a worker
	dirty      map[int64]bool // keys added while processing
	failures   map[int64]int  // consecutive failures per key
	timers     map[int64]*time.Timer
	shutdown   bool
	now        func() time.Time
	jitter     func() float64
}

func newQueue() *queue {
	q := &queue{
		queued: map[int64]bool{}, processing: map[int64]bool{}, dirty: map[int64]bool{},
		failures: map[int64]int{}, timers: map[int64]*time.Timer{},
		now: time.Now, jitter: rand.Float64,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add makes key ready for processing.
func (q *queue) Add(key int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key int64) {
	if q.shutdown {
		return
	}
	if q.processing[key] {
		q.dirty[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.order = append(q.order, key)
	q.cond.Signal()
}

// AddAfter adds key after delay, replacing a pending delayed add of the
// same key.
func (q *queue) AddAfter(key int64, delay time.Duration) {
	if delay <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	if t, ok := q.timers[key]; ok {
		t.Stop()
	}
	q.timers[key] = time.AfterFunc(delay, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.timers, key)
		q.addLocked(key)
	})
}

// Retry re-adds key after its backoff and counts a failure. It returns
// the delay chosen.
func (q *queue) Retry(key int64) time.Duration {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	d := Backoff(n)
	q.AddAfter(key, d)
	return d
}

// Forget clears key's failure count.
func (q *queue) Forget(key int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// Backoff is the delay before retry number n+1 (n failures so far).
func Backoff(n int) time.Duration {
	d := BaseDelay
	for i := 0; i < n && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay)
}

// Get blocks until a key is ready and returns it; ok is false once the
// queue is shut down (keys still waiting are dropped).
func (q *queue) Get() (key int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return 0, false
	}
	key, q.order = q.order[0], q.order[1:]
	delete(q.queued, key)
	q.processing[key] = true
	return key, true
}

// Done marks key processed; if it was added meanwhile it becomes ready.
func (q *queue) Done(key int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// Len is the number of keys ready for processing (the queue depth).
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// ShutDown wakes every waiting Get; pending delayed adds are dropped.
func (q *queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, t := range q.timers {
		t.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}

// Jittered returns d plus or minus up to 10 %, so replicas' resyncs
// spread out.
func (q *queue) Jittered(d time.Duration) time.Duration {
	f := 0.9 + 0.2*q.jitter()
	return time.Duration(float64(d) * f)
}
