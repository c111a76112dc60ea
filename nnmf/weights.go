package nnmf

import (
	"math"

	"github.com/deepnmf/deepnmf/kernels"
)

// NormalizeWeights computes W = |V| / (Σ_d |V| + 1e-19) row by row (spec §1.2).
// v and w are K×D, row-major; w may alias v.
func NormalizeWeights(v, w []float32, k, d int) {
	for kk := 0; kk < k; kk++ {
		vr := v[kk*d : kk*d+d]
		wr := w[kk*d : kk*d+d]
		// float64 accumulation: a sequential float32 sum over D = 800 is off
		// by ~1e-5 relative, which the forward turns into a 1e-5 error of h.
		var s64 float64
		for _, x := range vr {
			s64 += float64(abs32(x))
		}
		s := float32(s64) + kernels.NormGuard
		for j, x := range vr {
			wr[j] = abs32(x) / s
		}
	}
}

// RawWeightGrad chains gradW = ∂L/∂W through the row normalisation and |·|
// (spec §1.2) and overwrites gradV = ∂L/∂V:
// ∂L/∂A_kd = G_kd/s_k − (Σ_j G_kj A_kj)/s_k², ∂L/∂V_kd = ∂L/∂A_kd·sign(V_kd),
// sign(0) = 0 as PyTorch's abs backward. The subtraction can cancel, so it runs
// in float64 and rounds once.
func RawWeightGrad(v, gradW, gradV []float32, k, d int) {
	for kk := 0; kk < k; kk++ {
		vr := v[kk*d : kk*d+d]
		gr := gradW[kk*d : kk*d+d]
		out := gradV[kk*d : kk*d+d]
		var s64 float64
		for _, x := range vr {
			s64 += float64(abs32(x))
		}
		s := float64(float32(s64) + kernels.NormGuard)
		var dot float64
		for j, x := range vr {
			dot += float64(gr[j]) * float64(abs32(x))
		}
		shift := dot / (s * s)
		for j, x := range vr {
			g := float64(gr[j])/s - shift
			switch {
			case x > 0:
				out[j] = float32(g)
			case x < 0:
				out[j] = float32(-g)
			default:
				out[j] = 0
			}
		}
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
