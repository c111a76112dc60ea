package nnmf

import (
	"math"

	"github.com/deepnmf/deepnmf/kernels"
)

// Pivot ratio below which the per-row K×K system counts as singular and the
// regularised least-squares fallback takes over (spec §1.7 item 5). The
// Jacobian is built from float32 data, so anything beyond ~1e9 in condition
// is noise.
const (
	implicitPivotRatio = 1e-9
	implicitRidge      = 1e-9
)

// implicit differentiates at the fixed point h* = N(f(h*)) (spec §1.7 item 5):
// per row it solves (I − J)ᵀλ = g with J = ∂N(f(h))/∂h at h = h^T, maps λ
// through N's vector-Jacobian product to μ, and then applies the §1.4 formulas
// (which are exactly f's vector-Jacobian product for x and W) with g := μ
// (times ε in the epsilon form, where f_k = h_k(1 + εu_k)).
func (l *Layer) implicit(ws *Workspace, x []float32, rows int, w, h, g, gradX, gradW []float32) {
	k, d := l.Out, l.In
	recon := ws.bufD[1][:rows*d]
	q := ws.bufD[2][:rows*d]
	u := ws.bufK[1][:rows*k]
	geff := ws.bufK[2][:rows*k]
	kernels.Sgemm(false, false, rows, d, k, 1, h, k, w, d, 0, recon, d)
	for i := range recon {
		recon[i] += reconEps
		q[i] = x[i] / recon[i]
	}
	kernels.Sgemm(false, true, rows, k, d, 1, q, d, w, d, 0, u, k)
	eps := float64(l.Epsilon)
	slope := 1.0 // a'(u): f_k = h_k·a(u_k) with a(u) = u or 1 + εu
	if l.UseEpsilon {
		slope = eps
	}
	a, rhs := ws.a, ws.rhs
	nk := ws.nk // N = f/Σf
	for r := 0; r < rows; r++ {
		hr, ur := h[r*k:r*k+k], u[r*k:r*k+k]
		// M = W·diag(F/R)·Wᵀ, the curvature term of ∂u/∂h = −M.
		c := ws.c[:d]
		for j := range c {
			c[j] = q[r*d+j] / recon[r*d+j]
		}
		for kk := 0; kk < k; kk++ {
			kd := ws.kd[kk*d : kk*d+d]
			for j, wv := range w[kk*d : kk*d+d] {
				kd[j] = wv * c[j]
			}
		}
		kernels.Sgemm(false, true, k, k, d, 1, ws.kd, d, w, d, 0, ws.kk, k)
		var s float64
		for kk := 0; kk < k; kk++ {
			av := float64(ur[kk])
			if l.UseEpsilon {
				av = 1 + eps*av
			}
			nk[kk] = float64(hr[kk]) * av
			s += nk[kk]
		}
		s += float64(normEps)
		for kk := range nk {
			nk[kk] /= s
		}
		// Jf_kl = δ_kl·a(u_k) − h_k·a'·M_kl; J = (I − N·1ᵀ)·Jf / S.
		// a holds (I − J)ᵀ: a[l][k] = δ_kl − J_kl.
		for col := 0; col < k; col++ {
			ac := a[col*k : col*k+k]
			var colSum float64
			for row := range ac {
				ac[row] = jf(ws.kk, hr, ur, row, col, k, slope, eps, l.UseEpsilon)
				colSum += ac[row]
			}
			for row, j := range ac {
				v := -(j - nk[row]*colSum) / s
				if row == col {
					v++
				}
				ac[row] = v
			}
		}
		for kk := 0; kk < k; kk++ {
			rhs[kk] = float64(g[r*k+kk])
		}
		solveRow(a, rhs, ws.lu, ws.tmp, ws.piv, k)
		// μ = VJP of N: μ_l = (λ_l − λ·N)/S.
		var ln float64
		for kk := 0; kk < k; kk++ {
			ln += rhs[kk] * nk[kk]
		}
		for kk := 0; kk < k; kk++ {
			geff[r*k+kk] = float32(slope * (rhs[kk] - ln) / s)
		}
	}
	l.approx(ws, x, rows, w, h, geff, gradX, gradW)
}

// jf is ∂f_row/∂h_col of the un-normalised update f_k = h_k·a(u_k).
func jf(m []float32, h, u []float32, row, col, k int, slope, eps float64, useEps bool) float64 {
	v := -float64(h[row]) * slope * float64(m[row*k+col])
	if row == col {
		if useEps {
			v += 1 + eps*float64(u[row])
		} else {
			v += float64(u[row])
		}
	}
	return v
}

// solveRow solves a·λ = rhs in place (λ overwrites rhs) by LU with partial
// pivoting. If a is singular or ill-conditioned (rows with h_k = 0 make it so)
// it solves the ridge-regularised least-squares problem
// (aᵀa + δI)λ = aᵀrhs instead. a is K×K row-major and is preserved.
func solveRow(a, rhs, lu, tmp []float64, piv []int, k int) {
	copy(lu, a)
	if luFactor(lu, piv, k) {
		luSolve(lu, piv, rhs, k)
		return
	}
	var trace float64
	for i := 0; i < k; i++ {
		var c float64
		for m := 0; m < k; m++ {
			c += a[m*k+i] * rhs[m]
		}
		tmp[i] = c
		for j := 0; j < k; j++ {
			var s float64
			for m := 0; m < k; m++ {
				s += a[m*k+i] * a[m*k+j]
			}
			lu[i*k+j] = s
		}
		trace += lu[i*k+i]
	}
	if trace == 0 {
		clear(rhs)
		return
	}
	ridge := implicitRidge * trace / float64(k)
	for i := 0; i < k; i++ {
		lu[i*k+i] += ridge
	}
	luFactor(lu, piv, k) // symmetric positive definite: cannot fail
	copy(rhs, tmp)
	luSolve(lu, piv, rhs, k)
}

// luFactor factorises m in place (Doolittle, partial pivoting); false when the
// smallest pivot is below implicitPivotRatio times the largest.
func luFactor(m []float64, piv []int, k int) bool {
	minPiv, maxPiv := math.Inf(1), 0.0
	for c := 0; c < k; c++ {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(m[r*k+c]) > math.Abs(m[p*k+c]) {
				p = r
			}
		}
		piv[c] = p
		if p != c {
			for j := 0; j < k; j++ {
				m[c*k+j], m[p*k+j] = m[p*k+j], m[c*k+j]
			}
		}
		pv := m[c*k+c]
		minPiv, maxPiv = min(minPiv, math.Abs(pv)), max(maxPiv, math.Abs(pv))
		if pv == 0 {
			return false
		}
		pivRow := m[c*k+c+1 : c*k+k]
		for r := c + 1; r < k; r++ {
			f := m[r*k+c] / pv
			m[r*k+c] = f
			row := m[r*k+c+1 : r*k+k]
			row = row[:len(pivRow)]
			for j, v := range pivRow {
				row[j] -= f * v
			}
		}
	}
	return minPiv >= implicitPivotRatio*maxPiv
}

// luSolve solves with the factors of luFactor, overwriting b.
func luSolve(m []float64, piv []int, b []float64, k int) {
	for c := 0; c < k; c++ {
		if p := piv[c]; p != c {
			b[c], b[p] = b[p], b[c]
		}
	}
	for r := 0; r < k; r++ {
		s := b[r]
		for j := 0; j < r; j++ {
			s -= m[r*k+j] * b[j]
		}
		b[r] = s
	}
	for r := k - 1; r >= 0; r-- {
		s := b[r]
		for j := r + 1; j < k; j++ {
			s -= m[r*k+j] * b[j]
		}
		b[r] = s / m[r*k+r]
	}
}
