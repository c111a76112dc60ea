package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs a function over a fixed number of shards, one goroutine per shard,
// with persistent workers so that steady-state calls allocate nothing.
//
// Shard boundaries depend only on the number of shards (see Span), never on
// scheduling, so a caller that reduces per-shard partial results in shard order
// gets bit-identical results for a given shard count.
//
// A training step calls Run some 80 times, for layers that take from a few
// microseconds to tens of milliseconds. Parking a goroutine and waking it
// through the scheduler costs several microseconds each way, and every park
// may allocate the runtime's wait record (after a GC has emptied its cache).
// So both sides spin, yielding the processor on every poll, before they park:
// a worker waits for the next Run, the caller for the workers to finish, each
// for up to spinTime and then blocks on a channel. Within a training step no
// wait is that long (the serial parts between Runs, loss and Adam, take well
// under a millisecond), so the step neither parks nor allocates; between
// steps, and when the pool idles, the goroutines sleep.
type Pool struct {
	n       int
	fn      func(int)     // the current Run's function, published by gen
	gen     atomic.Uint64 // incremented by every Run
	pending atomic.Int64  // shards of the current Run not yet finished
	workers []poolWorker
	// The caller's side of the handshake with the last worker to finish.
	callerParked atomic.Bool
	done         chan struct{}
	mu           sync.Mutex
	closed       atomic.Bool
}

type poolWorker struct {
	parked atomic.Bool
	wake   chan struct{}
	_      [48]byte // keep the workers' flags on separate cache lines
}

// spinTime is how long a waiting side polls before it parks.
const spinTime = 2 * time.Millisecond

// spinning reports whether a wait that has polled i times since start should
// poll again; it reads the clock only every 64 polls.
func spinning(i int, start *time.Time) bool {
	switch {
	case i == 0:
		*start = time.Now()
	case i&63 == 0 && time.Since(*start) > spinTime:
		return false
	}
	runtime.Gosched()
	return true
}

// NewPool starts a pool with n shards (n < 1 is treated as 1). Shard 0 runs on
// the calling goroutine; shards 1..n-1 on persistent workers.
func NewPool(n int) *Pool {
	if n < 1 {
		n = 1
	}
	p := &Pool{n: n, workers: make([]poolWorker, n), done: make(chan struct{}, 1)}
	for s := 1; s < n; s++ {
		p.workers[s].wake = make(chan struct{}, 1)
		go p.work(s)
	}
	return p
}

// work is shard s's loop: wait for a new generation, run it, report.
func (p *Pool) work(s int) {
	w := &p.workers[s]
	// Generation 0, not gen.Load(): the first Run may bump gen before this
	// goroutine starts, and that Run must not be missed.
	seen := uint64(0)
	var start time.Time
	for {
		// Wait for the next Run: spin, then park. The parked flag is set
		// before gen is checked again, and Run bumps gen before it reads
		// the flag, so one of the two sees the other: no wake-up is lost.
		// (A wake-up sent after all, when both saw each other, leaves a
		// token that only makes a later park return early.)
		for i := 0; p.gen.Load() == seen; i++ {
			if p.closed.Load() {
				return
			}
			if spinning(i, &start) {
				continue
			}
			w.parked.Store(true)
			if p.gen.Load() == seen && !p.closed.Load() {
				<-w.wake
			}
			w.parked.Store(false)
			i = 0
		}
		seen = p.gen.Load()
		if p.closed.Load() {
			return
		}
		p.fn(s)
		if p.pending.Add(-1) == 0 && p.callerParked.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}

// Shards is the number of shards every Run splits its work into.
func (p *Pool) Shards() int {
	if p == nil {
		return 1
	}
	return p.n
}

// Run calls fn(shard) for every shard in [0, Shards()) concurrently and waits
// for all of them. Build fn once (for example at layer construction) and reuse
// it: a closure created per call would allocate. Run is not re-entrant.
func (p *Pool) Run(fn func(shard int)) {
	if p == nil || p.n == 1 {
		fn(0)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn = fn
	p.pending.Store(int64(p.n - 1))
	p.gen.Add(1) // publishes fn and pending to the workers
	for s := 1; s < p.n; s++ {
		if w := &p.workers[s]; w.parked.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	fn(0)
	var start time.Time
	for i := 0; p.pending.Load() != 0; i++ {
		if spinning(i, &start) {
			continue
		}
		// Same handshake as the workers': flag first, then check.
		p.callerParked.Store(true)
		if p.pending.Load() != 0 {
			<-p.done
		}
		p.callerParked.Store(false)
		i = 0
	}
	p.fn = nil
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil || p.closed.Swap(true) {
		return
	}
	for s := 1; s < p.n; s++ {
		// A worker checks closed before it parks and after it wakes, so a
		// token reaches a parked one and the others see the flag.
		select {
		case p.workers[s].wake <- struct{}{}:
		default:
		}
	}
}

// Span returns the half-open range [lo, hi) of n items that shard s of
// shards owns: contiguous, in order, sizes differing by at most one.
func Span(n, shards, s int) (lo, hi int) {
	q, r := n/shards, n%shards
	lo = s*q + min(s, r)
	hi = lo + q
	if s < r {
		hi++
	}
	return lo, hi
}
