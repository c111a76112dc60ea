package nnmf

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
)

// The paper model's NNMF layers at batch 50 and the 28×28 crop (spec §1.1).
var benchShapes = []struct {
	name       string
	rows, d, k int
}{
	{"L1_28800x75to32", 28800, 75, 32},
	{"L2_3200x800to64", 3200, 800, 64},
	{"L3_50x1024to96", 50, 1024, 96},
	{"L4_50x96to10", 50, 96, 10},
}

// randomProblem returns L1-normalised non-negative rows and a normalised W.
func randomProblem(rows, d, k int, seed uint64) (x, v, w []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	x = make([]float32, rows*d)
	for r := 0; r < rows; r++ {
		var s float32
		for j := 0; j < d; j++ {
			x[r*d+j] = rng.Float32()
			s += x[r*d+j]
		}
		for j := 0; j < d; j++ {
			x[r*d+j] /= s
		}
	}
	v = make([]float32, k*d)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	w = make([]float32, k*d)
	NormalizeWeights(v, w, k, d)
	return x, v, w
}

// shardedRun runs fn on each shard's row span with its own workspace and
// partial gradient buffer, as package nn does.
type sharded struct {
	layer   *Layer
	pool    *kernels.Pool
	ws      []*Workspace
	gradW   [][]float32
	x, w, h []float32
	gradH   []float32
	gradX   []float32
	rows    int
	err     []error
}

func newSharded(b testing.TB, cfg Config, rows, threads int) *sharded {
	layer, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	x, _, w := randomProblem(rows, cfg.In, cfg.Out, 1)
	s := &sharded{layer: layer, pool: kernels.NewPool(threads), x: x, w: w, rows: rows,
		h: make([]float32, rows*cfg.Out), gradH: make([]float32, rows*cfg.Out), gradX: make([]float32, rows*cfg.In),
		err: make([]error, threads)}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range s.gradH {
		s.gradH[i] = rng.Float32()*2 - 1
	}
	for sh := 0; sh < threads; sh++ {
		lo, hi := kernels.Span(rows, threads, sh)
		s.ws = append(s.ws, layer.NewWorkspace(hi-lo))
		s.gradW = append(s.gradW, make([]float32, cfg.In*cfg.Out))
	}
	b.Cleanup(s.pool.Close)
	return s
}

func (s *sharded) forward(needGrad bool) func(int) {
	k, d := s.layer.Out, s.layer.In
	return func(sh int) {
		lo, hi := kernels.Span(s.rows, s.pool.Shards(), sh)
		s.err[sh] = s.layer.Forward(s.ws[sh], s.x[lo*d:hi*d], hi-lo, s.w, s.h[lo*k:hi*k], needGrad)
	}
}

func (s *sharded) backward() func(int) {
	k, d := s.layer.Out, s.layer.In
	return func(sh int) {
		lo, hi := kernels.Span(s.rows, s.pool.Shards(), sh)
		clear(s.gradW[sh])
		s.err[sh] = s.layer.Backward(s.ws[sh], s.x[lo*d:hi*d], hi-lo, s.w, s.h[lo*k:hi*k], s.gradH[lo*k:hi*k], s.gradX[lo*d:hi*d], s.gradW[sh])
	}
}

func (s *sharded) check(b testing.TB) {
	for _, err := range s.err {
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForward(b *testing.B) {
	for _, sh := range benchShapes {
		for _, threads := range []int{1, 2} {
			for _, prec := range []kernels.Precision{kernels.Float32, kernels.BF16} {
				if prec == kernels.BF16 && !kernels.BF16Active() {
					continue // it would measure the float32 fallback again
				}
				b.Run(fmt.Sprintf("%s/threads=%d/%s", sh.name, threads, prec), func(b *testing.B) {
					s := newSharded(b, Config{In: sh.d, Out: sh.k, Iterations: 20, Precision: prec}, sh.rows, threads)
					fwd := s.forward(false)
					b.ReportAllocs()
					b.ResetTimer()
					cpu0, cpuOK := processCPUSeconds()
					for i := 0; i < b.N; i++ {
						s.pool.Run(fwd)
					}
					cpu1, _ := processCPUSeconds()
					b.StopTimer()
					s.check(b)
					flops := 4.0 * float64(sh.k*sh.d) * float64(sh.rows) * 20 * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					if cpuOK && cpu1 > cpu0 {
						b.ReportMetric(flops/(cpu1-cpu0)/1e9, "GFLOP/cpu-s")
					}
				})
			}
		}
	}
}

// BenchmarkBackward times each method's backward (after a forward with
// needGrad, outside the timer) on the two big layers with 2 goroutines.
// GFLOP/s counts the §1.1 approx figure 8·K·D per row for every method, so it
// reads as speed relative to approx.
func BenchmarkBackward(b *testing.B) {
	for _, sh := range benchShapes[:2] {
		for _, m := range []Method{Approx, Unrolled, LastIter, LastIterSqrtT, Implicit} {
			b.Run(fmt.Sprintf("%s/%v", sh.name, m), func(b *testing.B) {
				s := newSharded(b, Config{In: sh.d, Out: sh.k, Iterations: 20, Method: m}, sh.rows, 2)
				s.pool.Run(s.forward(true))
				s.check(b)
				bwd := s.backward()
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, cpuOK := processCPUSeconds()
				for b.Loop() {
					s.pool.Run(bwd)
				}
				cpu1, _ := processCPUSeconds()
				b.StopTimer()
				s.check(b)
				flops := 8.0 * float64(sh.k*sh.d) * float64(sh.rows)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "approxGFLOP/s")
				if cpuOK && cpu1 > cpu0 {
					b.ReportMetric(flops*float64(b.N)/(cpu1-cpu0)/1e9, "approxGFLOP/cpu-s")
				}
			})
		}
	}
}
