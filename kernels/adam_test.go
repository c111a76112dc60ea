package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/internal/exactfloat"
)

func TestFMA32RoundsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := [][3]float32{
		{1 + 0x1p-23, 1 - 0x1p-24, -1},
		{0x1p-30, 0x1p-30, 1},  // tiny product: the exact sum lies just above 1
		{-0x1p-30, 0x1p-30, 1}, // and just below 1, where the ulp halves
		{3, 0x1p-26 + 0x1p-50, 0x1p25 + 1},
	}
	for range 200000 {
		e := func() float32 { return float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(60)-30)) }
		cases = append(cases, [3]float32{e(), e(), e()})
	}
	for _, c := range cases {
		want := exactfloat.Round32(exactfloat.MulAdd(c[0], c[1], c[2]))
		if got := fma32(c[0], c[1], c[2]); got != want && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g, exact rounding %g", c[0], c[1], c[2], got, want)
		}
	}
}

// TestAdamUpdate runs the update on every path against the Go twin bit for
// bit (lengths around the vector width, so the assembly and the Go tail both
// run), and the twin's moments against exact arithmetic rounded once.
func TestAdamUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sc := AdamScalars{B1: 0.9, OmB1: 0.1, B2: 0.999, OmB2: 0.001, Bc2: float32(math.Sqrt(1 - math.Pow(0.999, 3))), Eps: 1e-8, NegStep: float32(-0.01 / (1 - math.Pow(0.9, 3)))}
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, n := range []int{1, 15, 16, 17, 100, 1000} {
			w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
				g[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(8)-4))
				m[i] = float32(rng.NormFloat64() * 0.1)
				v[i] = float32(rng.Float64() * 0.01)
			}
			w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
			m0, v0 := append([]float32(nil), m...), append([]float32(nil), v...)
			AdamUpdate(w, g, m, v, &sc)
			adamGo(w2, g, m2, v2, &sc)
			for i := range w {
				if w[i] != w2[i] || m[i] != m2[i] || v[i] != v2[i] {
					t.Fatalf("%s n=%d: element %d: w %g m %g v %g, the Go twin %g %g %g", p, n, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
				}
				wantM := exactfloat.Round32(exactfloat.MulAdd(g[i], sc.OmB1, float32(m0[i]*sc.B1)))
				wantV := exactfloat.Round32(exactfloat.MulAdd(float32(sc.OmB2*g[i]), g[i], float32(v0[i]*sc.B2)))
				if m2[i] != wantM || v2[i] != wantV {
					t.Fatalf("n=%d: element %d: m %g v %g, exact rounding %g %g", n, i, m2[i], v2[i], wantM, wantV)
				}
			}
		}
	})
}
