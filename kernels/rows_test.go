package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Row lengths: below, at and past one vector, the layers' widths (32, 64, 75,
// 96, 800, 1024, 10) and odd ones, so that every tail mask is exercised.
var rowShapes = []struct{ rows, c int }{
	{1, 1}, {3, 5}, {2, 15}, {4, 16}, {3, 17}, {5, 31}, {7, 32}, {2, 33}, {6, 64}, {9, 75},
	{3, 96}, {2, 800}, {2, 1024}, {5, 10}, {1, 47},
	// More rows than L1NormRows' chunk of 64, and a partial last chunk.
	{130, 17}, {67, 32},
}

func randRows(rng *rand.Rand, n int, lo, hi float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = lo + (hi-lo)*rng.Float32()
	}
	return s
}

// relClose reports whether got is within tol of want, relative to scale.
func relClose(got float32, want, scale, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*scale
}

// TestRowKernels checks every row kernel on every path against the Go twin
// bit for bit (the assembly reproduces its operations) and the twin against
// a float64 formula, with guards past the end of every buffer.
func TestRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const guard = 32
	nan := float32(math.NaN())
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, sh := range rowShapes {
			n, c := sh.rows*sh.c, sh.c
			name := fmt.Sprintf("%s rows=%d c=%d", p, sh.rows, c)
			x, _ := withGuard(randRows(rng, n, 0, 1), guard, nan)
			y, _ := withGuard(randRows(rng, n, 0, 1), guard, nan)
			gy, _ := withGuard(randRows(rng, n, -1, 1), guard, nan)
			cols := func(lo, hi float32) []float32 { s, _ := withGuard(randRows(rng, c, lo, hi), guard, nan); return s }
			scale, shift, mean, inv, mg, mgx := cols(0.5, 2), cols(-1, 1), cols(0, 1), cols(0.5, 3), cols(-0.1, 0.1), cols(-0.1, 0.1)
			out := func() ([]float32, []float32) { return withGuard(make([]float32, n), guard, -9) }
			checkGuard := func(what string, all []float32) {
				for i, v := range all[n:] {
					if v != -9 {
						t.Fatalf("%s: %s[%d] past the end written (%v)", name, what, n+i, v)
					}
				}
			}
			same := func(what string, got, want []float32) {
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: %s[%d] = %v, the Go twin gives %v", name, what, i, got[i], want[i])
					}
				}
			}

			got, all := out()
			L1NormRows(got, x, sh.rows, c)
			checkGuard("L1NormRows", all)
			// The official sum: sequential in float32, in channel order.
			want := make([]float32, n)
			for r := 0; r < sh.rows; r++ {
				var s float32
				for _, v := range x[r*c : (r+1)*c] {
					s += v
				}
				inv := 1 / (s + 1e-19)
				for i := r * c; i < (r+1)*c; i++ {
					want[i] = x[i] * inv
				}
			}
			same("L1NormRows", got, want)

			got, all = out()
			L1NormRowsBackward(got, gy, x, y, sh.rows, c)
			checkGuard("L1NormRowsBackward", all)
			l1NormRowsBackwardGo(want, gy, x, y, sh.rows, c)
			same("L1NormRowsBackward", got, want)
			for r := 0; r < sh.rows; r++ {
				var s, dot, dotAbs float64
				for i := r * c; i < (r+1)*c; i++ {
					s += float64(x[i])
					dot += float64(gy[i]) * float64(y[i])
					dotAbs += math.Abs(float64(gy[i]) * float64(y[i]))
				}
				for i := r * c; i < (r+1)*c; i++ {
					w := (float64(gy[i]) - dot) / s
					if !relClose(want[i], w, (math.Abs(float64(gy[i]))+dotAbs)/s, 1e-5) {
						t.Fatalf("%s: L1NormRowsBackward[%d] = %v, want %v", name, i, want[i], w)
					}
				}
			}

			got, all = out()
			ScaleShiftRows(got, x, sh.rows, c, scale, shift)
			checkGuard("ScaleShiftRows", all)
			scaleShiftRowsGo(want, x, sh.rows, c, scale, shift)
			same("ScaleShiftRows", got, want)
			for i := range want {
				w := float64(x[i])*float64(scale[i%c]) + float64(shift[i%c])
				if !relClose(want[i], w, math.Abs(float64(x[i])*float64(scale[i%c]))+math.Abs(float64(shift[i%c])), 1e-6) {
					t.Fatalf("%s: ScaleShiftRows[%d] = %v, want %v", name, i, want[i], w)
				}
			}

			// The statistics add to what the sums hold.
			start := func() []float64 {
				s := make([]float64, c, c+guard)
				for i := range s {
					s[i] = float64(i) * 0.5
				}
				return s
			}
			sum, sq, sum2, sq2 := start(), start(), start(), start()
			BatchNormStats(sum, sq, x, sh.rows, c)
			batchNormStatsGo(sum2, sq2, x, sh.rows, c, 0)
			for j := 0; j < c; j++ {
				if sum[j] != sum2[j] || sq[j] != sq2[j] {
					t.Fatalf("%s: BatchNormStats column %d: %v %v, the Go twin %v %v", name, j, sum[j], sq[j], sum2[j], sq2[j])
				}
				var ws, wq float64
				for r := 0; r < sh.rows; r++ {
					ws += float64(x[r*c+j])
					wq += float64(x[r*c+j]) * float64(x[r*c+j])
				}
				if math.Abs(sum2[j]-float64(j)*0.5-ws) > 1e-12*(ws+float64(j)) || math.Abs(sq2[j]-float64(j)*0.5-wq) > 1e-12*(wq+float64(j)) {
					t.Fatalf("%s: BatchNormStats column %d: %v %v, want %v %v", name, j, sum2[j], sq2[j], ws+float64(j)*0.5, wq+float64(j)*0.5)
				}
			}
			sum, sq, sum2, sq2 = start(), start(), start(), start()
			BatchNormGradStats(sum, sq, x, gy, mean, inv, sh.rows, c)
			batchNormGradStatsGo(sum2, sq2, x, gy, mean, inv, sh.rows, c, 0)
			for j := 0; j < c; j++ {
				if sum[j] != sum2[j] || sq[j] != sq2[j] {
					t.Fatalf("%s: BatchNormGradStats column %d: %v %v, the Go twin %v %v", name, j, sum[j], sq[j], sum2[j], sq2[j])
				}
				var ws, wq, scale float64
				for r := 0; r < sh.rows; r++ {
					g := float64(gy[r*c+j])
					xh := (float64(x[r*c+j]) - float64(mean[j])) * float64(inv[j])
					ws += g
					wq += g * xh
					scale += math.Abs(g * xh)
				}
				if math.Abs(sum2[j]-float64(j)*0.5-ws) > 1e-12*float64(sh.rows+j) || math.Abs(sq2[j]-float64(j)*0.5-wq) > 1e-6*(scale+1e-30) {
					t.Fatalf("%s: BatchNormGradStats column %d: %v %v, want %v %v", name, j, sum2[j], sq2[j], ws+float64(j)*0.5, wq+float64(j)*0.5)
				}
			}

			got, all = out()
			BatchNormGradRows(got, gy, x, sh.rows, c, mean, inv, scale, mg, mgx)
			checkGuard("BatchNormGradRows", all)
			batchNormGradRowsGo(want, gy, x, sh.rows, c, mean, inv, scale, mg, mgx)
			same("BatchNormGradRows", got, want)
			for i := range want {
				j := i % c
				xh := (float64(x[i]) - float64(mean[j])) * float64(inv[j])
				w := float64(scale[j]) * (float64(gy[i]) - float64(mg[j]) - xh*float64(mgx[j]))
				sc := float64(scale[j]) * (math.Abs(float64(gy[i])) + math.Abs(float64(mg[j])) + math.Abs(xh*float64(mgx[j])))
				if !relClose(want[i], w, sc, 1e-5) {
					t.Fatalf("%s: BatchNormGradRows[%d] = %v, want %v", name, i, want[i], w)
				}
			}
		}
	})
}

func TestReLUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, n := range []int{0, 1, 63, 64, 65, 200, 1000} {
			y := randRows(rng, n, -1, 1)
			for i := range y {
				if rng.IntN(5) == 0 {
					y[i] = specials[rng.IntN(len(specials))]
				}
			}
			gy := randRows(rng, n, -1, 1)
			gx, all := withGuard(make([]float32, n), 16, -9)
			ReLUGrad(gx, gy, y)
			for i, v := range all[n:] {
				if v != -9 {
					t.Fatalf("%s n=%d: gx[%d] past the end written (%v)", p, n, n+i, v)
				}
			}
			for i, v := range y {
				// Gradient where y > 0 or y is a NaN with the sign bit clear.
				pass := v > 0 || (v != v && !math.Signbit(float64(v)))
				want := float32(0)
				if pass {
					want = gy[i]
				}
				if math.Float32bits(gx[i]) != math.Float32bits(want) {
					t.Fatalf("%s n=%d: y[%d] = %v: gx = %v, want %v", p, n, i, v, gx[i], want)
				}
			}
		}
	})
}

func TestFirstNonFinite(t *testing.T) {
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7f800001)} // the last a signalling NaN
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, n := range []int{0, 1, 15, 63, 64, 65, 127, 128, 300} {
			s := make([]float32, n)
			for i := range s {
				s[i] = -float32(i) * 1e36 // large but finite values
				if i%2 == 0 {
					s[i] = math.MaxFloat32
				}
			}
			if got := FirstNonFinite(s); got != -1 {
				t.Fatalf("%s n=%d: all finite, got %d", p, n, got)
			}
			for pos := 0; pos < n; pos++ {
				for _, b := range bad {
					s2 := append([]float32(nil), s...)
					s2[pos] = b
					if pos+7 < n {
						s2[pos+7] = b // a later one must not win
					}
					if got := FirstNonFinite(s2); got != pos {
						t.Fatalf("%s n=%d: %v at %d, got %d", p, n, b, pos, got)
					}
				}
			}
		}
	})
}

func TestReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	negZero := float32(math.Copysign(0, -1))
	specials := []float32{0, negZero, float32(math.NaN()), -float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, n := range []int{0, 1, 63, 64, 65, 200, 1000} {
			x := randRows(rng, n, -1, 1)
			for i := range x {
				if rng.IntN(5) == 0 {
					x[i] = specials[rng.IntN(len(specials))]
				}
			}
			y, all := withGuard(make([]float32, n), 16, -9)
			if err := ReLU(y, x); err != nil {
				t.Fatal(err)
			}
			for i, v := range all[n:] {
				if v != -9 {
					t.Fatalf("%s n=%d: y[%d] past the end written (%v)", p, n, n+i, v)
				}
			}
			for i, v := range x {
				want := v // NaN passes
				if v < 0 || v == 0 {
					want = 0 // +0, also for −0
				}
				if math.Float32bits(y[i]) != math.Float32bits(want) && !(v != v && y[i] != y[i]) {
					t.Fatalf("%s n=%d: relu(%v) = %v, want %v", p, n, v, y[i], want)
				}
			}
		}
	})
}
