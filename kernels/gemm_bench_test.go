package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// gemmBenchShapes are the products of the paper model at its 28×28 crop with
// batch 50 (M×K×N) in the transpose forms the layers use: forward X·Wᵀ (NT),
// input gradient G·W (NN), weight gradient Gᵀ·X (TN); plus 1024³.
var gemmBenchShapes = []struct {
	name           string
	transA, transB bool
	m, k, n        int
}{
	{"28800x75x32_NT", false, true, 28800, 75, 32},
	{"28800x32x75_NN", false, false, 28800, 32, 75},
	{"32x28800x75_TN", true, false, 32, 28800, 75},
	{"3200x800x64_NT", false, true, 3200, 800, 64},
	{"3200x64x800_NN", false, false, 3200, 64, 800},
	{"64x3200x800_TN", true, false, 64, 3200, 800},
	{"50x1024x96_NT", false, true, 50, 1024, 96},
	{"1024x1024x1024_NN", false, false, 1024, 1024, 1024},
}

// BenchmarkSgemm reports GFLOP/s (wall clock) and cpuGFLOP/s (per CPU second
// of the benchmark's thread) for every shape on every supported path.
func BenchmarkSgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range gemmBenchShapes {
		lda, ldb := sh.k, sh.n
		if sh.transA {
			lda = sh.m
		}
		if sh.transB {
			ldb = sh.k
		}
		a := make([]float32, sh.m*sh.k)
		bm := make([]float32, sh.k*sh.n)
		c := make([]float32, sh.m*sh.n)
		for i := range a {
			a[i] = rng.Float32()
		}
		for i := range bm {
			bm[i] = rng.Float32()
		}
		for p := PathGeneric; p <= SupportedPath(); p++ {
			b.Run(fmt.Sprintf("%s/%s", p, sh.name), func(b *testing.B) {
				prev, err := ForcePath(p)
				if err != nil {
					b.Fatal(err)
				}
				defer ForcePath(prev)
				// One call outside the timing so that the packing buffers exist.
				Sgemm(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, bm, ldb, 0, c, sh.n)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, cpuOK := threadCPUSeconds()
				b.ReportAllocs()
				for b.Loop() {
					Sgemm(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, bm, ldb, 0, c, sh.n)
				}
				flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cpu1, ok := threadCPUSeconds(); ok && cpuOK && cpu1 > cpu0 {
					b.ReportMetric(flops/(cpu1-cpu0)/1e9, "cpuGFLOP/s")
				}
			})
		}
	}
}
