package train

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// round32 rounds an exact big.Float to float32 (nearest, ties to even).
func round32(x *big.Float) float32 {
	f, _ := x.Float32()
	return f
}

func exact(v float32) *big.Float { return new(big.Float).SetPrec(0).SetFloat64(float64(v)) }

// exactMulAdd is a·b + c with no rounding.
func exactMulAdd(a, b, c float32) *big.Float {
	p := new(big.Float).SetPrec(400).Mul(exact(a), exact(b))
	return p.Add(p, exact(c))
}

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
		want := round32(exactMulAdd(c[0], c[1], c[2]))
		if got := fma32(c[0], c[1], c[2]); got != want && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g, exact rounding %g", c[0], c[1], c[2], got, want)
		}
	}
}

// PyTorch 1.13's CPU Adam (single-tensor path) on AVX2 hardware fuses both
// moment updates: exp_avg.mul_(β1).add_(g, alpha=1−β1) is fmadd(g, 1−β1, m·β1)
// (ATen ufunc add), and exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2) is
// contracted to fma((1−β2)·g, g, v·β2) (pytorch/pytorch#89764 shows the CPU
// addcmul rounding once). The reference here is exact arithmetic rounded once.
func TestAdamMomentsRoundLikePyTorch(t *testing.T) {
	const n = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	p := &nn.Param{Key: "w", Data: make([]float32, n), Grad: make([]float32, n)}
	a := NewAdam([]*nn.Param{p}, 0.01, DefaultAdam())
	m0, v0 := make([]float32, n), make([]float32, n)
	for i := range n {
		p.Data[i] = float32(rng.NormFloat64())
		p.Grad[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(8)-4))
		m0[i] = float32(rng.NormFloat64() * 0.1)
		v0[i] = float32(rng.Float64() * 0.01)
	}
	copy(a.M[0], m0)
	copy(a.V[0], v0)
	a.Step = 3
	a.Update()
	b1, omb1 := float32(0.9), float32(0.1)
	b2, omb2 := float32(0.999), float32(0.001)
	fusedDiffers := 0
	for i := range n {
		g := p.Grad[i]
		wantM := round32(exactMulAdd(g, omb1, float32(m0[i]*b1)))
		wantV := round32(exactMulAdd(float32(omb2*g), g, float32(v0[i]*b2)))
		if a.M[0][i] != wantM || a.V[0][i] != wantV {
			t.Fatalf("element %d: m %g v %g, PyTorch rounding %g %g", i, a.M[0][i], a.V[0][i], wantM, wantV)
		}
		// Explicit conversions: each product rounded on its own.
		unfusedM := float32(m0[i]*b1) + float32(omb1*g)
		unfusedV := float32(v0[i]*b2) + float32(float32(omb2*g)*g)
		if unfusedM != wantM || unfusedV != wantV {
			fusedDiffers++
		}
	}
	// Without fusion some of these elements round differently, so the test
	// can tell the two orders apart.
	if fusedDiffers == 0 {
		t.Fatal("no element distinguishes fused from separately rounded updates; pick other inputs")
	}
}
