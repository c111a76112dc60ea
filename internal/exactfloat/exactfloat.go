// Package exactfloat computes float32 operations exactly and rounds once, the
// reference for tests of fused multiply-adds (kernels' fma32 and Adam, which
// must round as PyTorch's FMA-based CPU kernels do).
package exactfloat

import "math/big"

// Round32 rounds x to the nearest float32 (ties to even).
func Round32(x *big.Float) float32 {
	f, _ := x.Float32()
	return f
}

// Exact is v as an exact big.Float.
func Exact(v float32) *big.Float { return new(big.Float).SetPrec(0).SetFloat64(float64(v)) }

// MulAdd is a·b + c with no rounding.
func MulAdd(a, b, c float32) *big.Float {
	p := new(big.Float).SetPrec(400).Mul(Exact(a), Exact(b))
	return p.Add(p, Exact(c))
}
