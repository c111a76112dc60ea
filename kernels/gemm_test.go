package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// allPaths runs f once per path this CPU and build support, with that path
// forced, and restores the start-up path afterwards.
func allPaths(t testing.TB, f func(t testing.TB, p CPUPath)) {
	t.Helper()
	start := ActivePath()
	defer ForcePath(start)
	for p := PathGeneric; p <= SupportedPath(); p++ {
		if _, err := ForcePath(p); err != nil {
			t.Fatal(err)
		}
		f(t, p)
	}
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra leading-dimension elements
	padC           int
	alpha, beta    float32
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d pads=%d,%d,%d alpha=%g beta=%g", c.transA, c.transB, c.m, c.n, c.k, c.padA, c.padB, c.padC, c.alpha, c.beta)
}

// gemmOperands returns A, B, C and their leading dimensions for c, filled with
// values in [-1, 1) and C's padding set to a sentinel.
func gemmOperands(c gemmCase, rng *rand.Rand) (a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) {
	rowsA, colsA := c.m, c.k
	if c.transA {
		rowsA, colsA = c.k, c.m
	}
	rowsB, colsB := c.k, c.n
	if c.transB {
		rowsB, colsB = c.n, c.k
	}
	lda, ldb, ldc = colsA+c.padA, colsB+c.padB, c.n+c.padC
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	// A and B end at their last element, as Sgemm's minimum, so that any read
	// past an operand's end is one the driver had to plan for.
	a, b, cm = fill((rowsA-1)*lda+colsA), fill((rowsB-1)*ldb+colsB), fill(c.m*ldc)
	for i := 0; i < c.m; i++ {
		for j := c.n; j < ldc; j++ {
			cm[i*ldc+j] = 12345
		}
	}
	return a, lda, b, ldb, cm, ldc
}

// checkGemm compares got with the float64 oracle want elementwise, allowing the
// float32 rounding of a length-k sum of products.
func checkGemm(t testing.TB, label string, c gemmCase, a []float32, lda int, b []float32, ldb int, c0, got, want []float32, ldc int) {
	t.Helper()
	absA, absB := make([]float32, len(a)), make([]float32, len(b))
	for i, v := range a {
		absA[i] = float32(math.Abs(float64(v)))
	}
	for i, v := range b {
		absB[i] = float32(math.Abs(float64(v)))
	}
	scale := make([]float32, len(c0))
	SgemmRef(c.transA, c.transB, c.m, c.n, c.k, 1, absA, lda, absB, ldb, 0, scale, ldc)
	for i := 0; i < c.m; i++ {
		for j := 0; j < ldc; j++ {
			idx := i*ldc + j
			if j >= c.n {
				if got[idx] != c0[idx] {
					t.Fatalf("%s %v: C padding (%d,%d) changed to %g", label, c, i, j, got[idx])
				}
				continue
			}
			bound := 2e-7 * float64(c.k+4) * (math.Abs(float64(c.alpha))*float64(scale[idx]) + math.Abs(float64(c.beta)*float64(c0[idx])))
			if d := math.Abs(float64(got[idx] - want[idx])); !(d <= bound+1e-30) {
				t.Fatalf("%s %v: C(%d,%d) = %g, want %g (|diff| %g > %g)", label, c, i, j, got[idx], want[idx], d, bound)
			}
		}
	}
}

func runGemmCase(t testing.TB, c gemmCase, rng *rand.Rand) {
	a, lda, b, ldb, c0, ldc := gemmOperands(c, rng)
	want := append([]float32(nil), c0...)
	SgemmRef(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
	allPaths(t, func(t testing.TB, p CPUPath) {
		got := append([]float32(nil), c0...)
		Sgemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
		checkGemm(t, p.String(), c, a, lda, b, ldb, c0, got, want, ldc)
	})
}

func TestSgemmSmallSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 5, 6, 7, 8, 11, 12, 13, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49, 64, 65, 70}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0}, {2, -1.5}, {0, 1}, {0.25, 0.5}}
	count := 0
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, m := range sizes {
				for _, n := range sizes {
					// k sweeps all sizes over the whole table without a full cube.
					k := sizes[(m*7+n*3+count)%len(sizes)]
					s := scalars[count%len(scalars)]
					pad := count % 3 * 5
					runGemmCase(t, gemmCase{tA, tB, m, n, k, pad, (pad + 3) % 7, pad % 4, s[0], s[1]}, rng)
					count++
				}
			}
		}
	}
}

// TestSgemmBlocking crosses the KC, MC and NC block edges and the packing
// decisions of the assembly driver.
func TestSgemmBlocking(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := [][3]int{
		{160, 100, 300}, // two MC and two KC blocks, both operands packed
		{13, 2100, 20},  // two NC blocks
		{150, 33, 257},  // KC + 1
		{50, 75, 1024},  // 4 KiB stride of A
		{20, 64, 1024},  // 4 KiB stride, few rows
		{40, 200, 300},  // few rows: B read in place
		{290, 32, 75},   // first-layer forward shape (rows cut)
		{32, 75, 600},   // weight-gradient shape (K cut)
		{145, 1025, 3},  // tiny k, wide n
		{1, 1, 3000},    // long dot product
	}
	for _, sh := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				runGemmCase(t, gemmCase{tA, tB, sh[0], sh[1], sh[2], 1, 0, 3, 1.5, 0.75}, rng)
				runGemmCase(t, gemmCase{tA, tB, sh[0], sh[1], sh[2], 0, 5, 0, 1, 0}, rng)
			}
		}
	}
}

func TestSgemmNaNSemantics(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				const m, n, k = 13, 37, 9
				a := make([]float32, m*k)
				b := make([]float32, k*n)
				for i := range b {
					b[i] = 1
				}
				// A is all zero; B carries a NaN at op(B)(4, 5) and an Inf at (2, 30).
				setB := func(p, j int, v float32) {
					if tB {
						b[j*k+p] = v
					} else {
						b[p*n+j] = v
					}
				}
				setB(4, 5, nan)
				setB(2, 30, inf)
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				c := make([]float32, m*n)
				for i := range c {
					c[i] = nan
				}
				Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						v := c[i*n+j]
						// 0·NaN and 0·Inf are NaN: every row of columns 5 and 30.
						if wantNaN := j == 5 || j == 30; wantNaN != math.IsNaN(float64(v)) || (!wantNaN && v != 0) {
							t.Fatalf("%s tA=%v tB=%v: C(%d,%d) = %g", p, tA, tB, i, j, v)
						}
					}
				}
			}
		}
	})
}

func TestSgemmZeroK(t *testing.T) {
	allPaths(t, func(t testing.TB, p CPUPath) {
		c := []float32{float32(math.NaN()), 2, 3, 4}
		Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
		for _, v := range c {
			if v != 0 {
				t.Fatalf("%s: beta=0, k=0 left %v", p, c)
			}
		}
		c = []float32{1, 2, 3, 4}
		Sgemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 2, c, 2)
		if c[3] != 8 {
			t.Fatalf("%s: beta=2, k=0 gave %v", p, c)
		}
	})
}

func TestSgemmRejectsShortOperands(t *testing.T) {
	cases := []struct {
		name string
		run  func()
	}{
		{"short A", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short B", func() {
			Sgemm(false, true, 2, 2, 3, 1, make([]float32, 6), 3, make([]float32, 5), 3, 0, make([]float32, 4), 2)
		}},
		{"small ldc", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 1)
		}},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.run()
		}()
	}
}

// TestSgemmDoesNotAllocate: steady-state calls allocate nothing on any path
// (the first call may create the packing buffers).
func TestSgemmDoesNotAllocate(t *testing.T) {
	const m, n, k = 300, 100, 200
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	allPaths(t, func(t testing.TB, p CPUPath) {
		notTrans := func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0.5, c, n) }
		trans := func() { Sgemm(true, true, m, n, k, 1, a, m, b, k, 0.5, c, n) }
		for name, run := range map[string]func(){"NN": notTrans, "TT": trans} {
			if allocs := testing.AllocsPerRun(3, run); allocs != 0 {
				t.Errorf("%s %s: %v allocations per call", p, name, allocs)
			}
		}
	})
}

// TestSgemmConcurrent: goroutines sharing the packing-buffer free list get
// the same answers as a serial run.
func TestSgemmConcurrent(t *testing.T) {
	const m, n, k, workers = 150, 70, 300, 4
	rng := rand.New(rand.NewPCG(19, 20))
	a := randomSlice(rng, m*k)
	b := randomSlice(rng, k*n)
	want := make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a, k, b[:n*k], k, 0, want, n)
	got := make([][]float32, workers)
	done := make(chan struct{})
	for w := range got {
		got[w] = make([]float32, m*n)
		go func(c []float32) {
			for range 5 {
				Sgemm(false, true, m, n, k, 1, a, k, b[:n*k], k, 0, c, n)
			}
			done <- struct{}{}
		}(got[w])
	}
	for range got {
		<-done
	}
	for w, c := range got {
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("worker %d: element %d = %g, serial %g", w, i, c[i], want[i])
			}
		}
	}
}
