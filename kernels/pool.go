package kernels

import "sync"

// Pool runs a function over a fixed number of shards, one goroutine per shard,
// with persistent workers so that steady-state calls allocate nothing.
//
// Shard boundaries depend only on the number of shards (see Span), never on
// scheduling, so a caller that reduces per-shard partial results in shard order
// gets bit-identical results for a given shard count.
type Pool struct {
	n    int
	work []chan func(int)
	wg   sync.WaitGroup
	mu   sync.Mutex
}

// NewPool starts a pool with n shards (n < 1 is treated as 1). Shard 0 runs on
// the calling goroutine; shards 1..n-1 on persistent workers.
func NewPool(n int) *Pool {
	if n < 1 {
		n = 1
	}
	p := &Pool{n: n, work: make([]chan func(int), n)}
	for s := 1; s < n; s++ {
		ch := make(chan func(int))
		p.work[s] = ch
		go func(shard int) {
			for fn := range ch {
				fn(shard)
				p.wg.Done()
			}
		}(s)
	}
	return p
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
	p.wg.Add(p.n - 1)
	for s := 1; s < p.n; s++ {
		p.work[s] <- fn
	}
	fn(0)
	p.wg.Wait()
	p.mu.Unlock()
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	for s := 1; s < p.n; s++ {
		close(p.work[s])
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
