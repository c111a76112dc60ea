package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/internal/exactfloat"
	"github.com/deepnmf/deepnmf/nn"
)

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
		wantM := exactfloat.Round32(exactfloat.MulAdd(g, omb1, float32(m0[i]*b1)))
		wantV := exactfloat.Round32(exactfloat.MulAdd(float32(omb2*g), g, float32(v0[i]*b2)))
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
