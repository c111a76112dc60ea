package kernels

import "math"

// AdamScalars are the per-step float32 constants of torch.optim.Adam's update
// (PyTorch computes them in double and rounds them where they meet a float32
// tensor). The field order is the assembly's.
type AdamScalars struct {
	B1, OmB1 float32 // β1, 1 − β1
	B2, OmB2 float32 // β2, 1 − β2
	Bc2      float32 // √(1 − β2ᵗ)
	Eps      float32
	NegStep  float32 // −lr / (1 − β1ᵗ)
}

// AdamUpdate applies one Adam update to the parameters w with gradient g and
// moments m and v (all the same length), rounding every operation as
// PyTorch's vectorised CPU kernel does: the moment updates fused (add_ as
// fmadd, addcmul contracted to one FMA), everything else op by op.
func AdamUpdate(w, g, m, v []float32, s *AdamScalars) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	head := 0
	if rowKernels() && n >= 16 {
		head = n &^ 15
		adamAVX512(&w[0], &g[0], &m[0], &v[0], head, &s.B1) // the fields are 7 consecutive float32s
	}
	adamGo(w[head:], g[head:], m[head:], v[head:], s)
}

// adamGo is the Go twin of the assembly and its definition.
func adamGo(w, g, m, v []float32, s *AdamScalars) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j := range w {
		m[j] = fma32(g[j], s.OmB1, float32(m[j]*s.B1))
		v[j] = fma32(float32(s.OmB2*g[j]), g[j], float32(v[j]*s.B2))
		denom := float32(float32(sqrt32(v[j])/s.Bc2) + s.Eps)
		w[j] += float32(float32(s.NegStep*m[j]) / denom)
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// fma32 is a·b + c rounded once to float32, as a float32 FMA instruction
// computes it. a·b is exact in float64; the float64 sum is made round-to-odd
// (its last bit records whether it was inexact), which makes the final
// rounding to float32 correct instead of a double rounding.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cf := float64(c)
	s := p + cf
	// TwoSum: err is the exact rounding error of s.
	bv := s - p
	err := (p - (s - bv)) + (cf - bv)
	// err−err == 0 skips non-finite inputs, whose s must stay as it is.
	if bits := math.Float64bits(s); err != 0 && err-err == 0 && bits&1 == 0 {
		if (err > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}
