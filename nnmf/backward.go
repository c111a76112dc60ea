package nnmf

import (
	"math"

	"github.com/deepnmf/deepnmf/kernels"
)

const (
	reconEps = kernels.ReconGuard // spec §1.3 / §1.4 reconstruction guard
	normEps  = kernels.NormGuard  // spec §1.3 h-normalisation guard
)

// Backward takes gradH = ∂L/∂h (rows × K) of the last Forward on this
// workspace and the same x, w, h, overwrites gradX (rows × D) with ∂L/∂x and
// ADDS ∂L/∂W (w.r.t. the normalised weight) into gradW (K × D) by the layer's
// method (spec §1.4-1.7). With local learning gradW follows spec §1.6 and gradX
// §1.4. Within a call gradW's summation order is fixed, so a caller that sums
// per-shard partials in shard order gets reproducible results. Non-finite
// gradients return an error wrapping ErrNotFinite.
func (l *Layer) Backward(ws *Workspace, x []float32, rows int, w, h, gradH, gradX, gradW []float32) error {
	if err := l.checkArgs(ws, x, rows, w, h); err != nil {
		return err
	}
	k, d := l.Out, l.In
	switch {
	case len(gradH) < rows*k:
		return l.errorf("gradient of h has %d values, want %d rows × %d", len(gradH), rows, k)
	case len(gradX) < rows*d:
		return l.errorf("gradient of x has %d values, want %d rows × %d", len(gradX), rows, d)
	case len(gradW) < k*d:
		return l.errorf("weight gradient has %d values, want %d × %d", len(gradW), k, d)
	case ws.gradRows != rows:
		return l.errorf("backward of %d rows without a forward with needGrad on those rows", rows)
	}
	if rows == 0 {
		return nil
	}
	w, gradW = w[:k*d], gradW[:k*d]
	sqrtT := float32(math.Sqrt(float64(l.Iterations)))
	fused := l.fusedApprox() && kernels.NNMFApproxFused()
	if fused {
		kernels.NNMFPackW(w, k, d, ws.packed)
	}
	for r0 := 0; r0 < rows; r0 += ws.block {
		if l.stopped() {
			return l.interrupted()
		}
		n := min(ws.block, rows-r0)
		xb, hb, gb, gxb := x[r0*d:(r0+n)*d], h[r0*k:(r0+n)*k], gradH[r0*k:(r0+n)*k], gradX[r0*d:(r0+n)*d]
		switch l.method {
		case Approx:
			if fused {
				kernels.NNMFApprox(xb, n, k, d, ws.packed, hb, gb, gxb, ws.acc, ws.fused)
				kernels.NNMFApproxFlush(ws.acc, k, d, gradW)
			} else {
				l.approx(ws, xb, n, w, hb, gb, gxb, gradW)
			}
		case Unrolled:
			l.unrolled(ws, xb, n, w, gb, gxb, gradW, r0, rows)
		case LastIter:
			l.lastIter(ws, xb, n, w, ws.hist[r0*k:(r0+n)*k], gb, gxb, gradW, 1)
		case LastIterSqrtT:
			l.lastIter(ws, xb, n, w, ws.hist[r0*k:(r0+n)*k], gb, gxb, gradW, sqrtT)
		case Implicit:
			l.implicit(ws, xb, n, w, hb, gb, gxb, gradW)
		}
	}
	gradX = gradX[:rows*d]
	if i := kernels.FirstNonFinite(gradX); i >= 0 {
		return l.notFinite("input gradient", i)
	}
	if i := kernels.FirstNonFinite(gradW); i >= 0 {
		return l.notFinite("weight gradient", i)
	}
	return nil
}

// fusedApprox reports whether the layer's backward is the approximate one
// without local learning, which kernels.NNMFApprox computes in one pass per
// row tile where the CPU path has the fused kernel (AVX-512); approx below is
// the same computation as GEMMs, for the other paths and the local rules.
func (l *Layer) fusedApprox() bool { return l.method == Approx && !l.LocalLearning }

// approx is the official approximate backward (spec §1.4) with g = gradH, or a
// local rule (§1.6) for gradW:
//
//	r = 1/(h·W + 1e-20), F = x⊙r, gradX = r ⊙ ((h⊙g)·W),
//	gradW += (h⊙g)ᵀF − hᵀ(F⊙gradX) = [h⊙g; −h]ᵀ·[F; F⊙gradX],
//
// the last as one GEMM of depth 2·rows, which halves the traffic on gradW.
func (l *Layer) approx(ws *Workspace, x []float32, rows int, w, h, g, gradX, gradW []float32) {
	k, d := l.Out, l.In
	n := rows * d
	recon := ws.bufD[0][:n]   // R, then F
	fg := ws.bufD[0][n : 2*n] // F ⊙ gradX
	hg := ws.bufK[0][:rows*k] // h ⊙ g
	negH := ws.bufK[0][rows*k : 2*rows*k]
	x, gradX, h, g = x[:n], gradX[:n], h[:rows*k], g[:rows*k]
	kernels.Sgemm(false, false, rows, d, k, 1, h, k, w, d, 0, recon, d)
	for i, hv := range h {
		hg[i] = hv * g[i]
		negH[i] = -hv
	}
	kernels.Sgemm(false, false, rows, d, k, 1, hg, k, w, d, 0, gradX, d)
	if l.LocalLearning && !l.LocalLearningKL {
		// −Σ_rows h_k·2·(x_d − R_d), with R without the guard (spec §1.6).
		for i, rv := range recon {
			fg[i] = 2 * (x[i] - rv)
		}
		kernels.Sgemm(true, false, k, d, rows, -1, h, k, fg, d, 1, gradW, d)
	}
	for i, rv := range recon {
		r := 1 / (rv + reconEps)
		f := x[i] * r
		gx := r * gradX[i]
		gradX[i] = gx
		recon[i] = f
		fg[i] = f * gx
	}
	switch {
	case !l.LocalLearning:
		kernels.Sgemm(true, false, k, d, 2*rows, 1, ws.bufK[0][:2*rows*k], k, ws.bufD[0][:2*n], d, 1, gradW, d)
	case l.LocalLearningKL:
		// −Σ_rows h_k·x_d/(R_d + 1e-20) = −hᵀF.
		kernels.Sgemm(true, false, k, d, rows, -1, h, k, recon, d, 1, gradW, d)
	}
}

// unrolled is exact reverse-mode differentiation of the T stored iterations
// (spec §1.5) for the block of rows starting at row r0 of the total stored by
// Forward.
func (l *Layer) unrolled(ws *Workspace, x []float32, rows int, w, g, gradX, gradW []float32, r0, total int) {
	k, t := l.Out, l.Iterations
	gbar := ws.bufK[3][:rows*k]
	hbar := ws.bufK[4][:rows*k]
	copy(gbar, g)
	clear(gradX)
	for it := t; it >= 1; it-- {
		base := (it-1)*total*k + r0*k
		hp := ws.hist[base : base+rows*k]
		l.reverseStep(ws, x, rows, w, hp, gbar, gradX, gradW, hbar, 1)
		gbar, hbar = hbar, gbar
	}
}

// lastIter backpropagates through the last iteration only, from the stored
// h^{T−1} (spec §1.7 items 3 and 4), scaling both gradients by scale.
func (l *Layer) lastIter(ws *Workspace, x []float32, rows int, w, hPrev, g, gradX, gradW []float32, scale float32) {
	clear(gradX)
	l.reverseStep(ws, x, rows, w, hPrev, g, gradX, gradW, nil, scale)
}

// reverseStep is the vector-Jacobian product of one update h^t = N(f(h^{t−1}))
// (spec §1.5) for cotangent gbar = ∂L/∂h^t: it adds scale·∂L/∂x into gradX,
// scale·∂L/∂W into gradW and, if hbar is not nil, overwrites hbar with ∂L/∂h^{t−1}.
func (l *Layer) reverseStep(ws *Workspace, x []float32, rows int, w, hp, gbar, gradX, gradW, hbar []float32, scale float32) {
	k, d := l.Out, l.In
	n := rows * d
	recon := ws.bufD[1][:n]
	q := ws.bufD[0][:n]         // q, then [q; R̄] for the merged W̄ product
	qbar := ws.bufD[0][n : 2*n] // q̄, then R̄
	ubar := ws.bufK[0][:rows*k] // [ū; h^{t−1}] for the merged W̄ product
	hcopy := ws.bufK[0][rows*k : 2*rows*k]
	u := ws.bufK[1][:rows*k]
	x, gradX = x[:n], gradX[:n]
	kernels.Sgemm(false, false, rows, d, k, 1, hp, k, w, d, 0, recon, d)
	for i := range recon {
		recon[i] += reconEps
		q[i] = x[i] / recon[i]
	}
	kernels.Sgemm(false, true, rows, k, d, 1, q, d, w, d, 0, u, k)
	eps, useEps := l.Epsilon, l.UseEpsilon
	for r := 0; r < rows; r++ {
		ur, hr, gr := u[r*k:r*k+k], hp[r*k:r*k+k], gbar[r*k:r*k+k]
		ubr := ubar[r*k : r*k+k]
		// v = h⊙u (or h⊙(1+εu)), S = Σv + 1e-19, v̄ = ḡ/S − (ḡ·v)/S².
		var s float32
		var gv float64
		for j := range ur {
			v := hr[j] * ur[j]
			if useEps {
				v = hr[j] * (1 + eps*ur[j])
			}
			s += v
			gv += float64(gr[j]) * float64(v)
		}
		s += normEps
		shift := float32(gv / (float64(s) * float64(s)))
		for j := range ur {
			vbar := gr[j]/s - shift
			if useEps {
				if hbar != nil {
					hbar[r*k+j] = vbar * (1 + eps*ur[j])
				}
				ubr[j] = eps * vbar * hr[j]
			} else {
				if hbar != nil {
					hbar[r*k+j] = vbar * ur[j]
				}
				ubr[j] = vbar * hr[j]
			}
		}
	}
	copy(hcopy, hp)
	// q̄ = ū·W; x̄ += q̄/R; R̄ = −q̄⊙x/R² = −q̄⊙q/R.
	kernels.Sgemm(false, false, rows, d, k, 1, ubar, k, w, d, 0, qbar, d)
	for i, qb := range qbar {
		xb := qb / recon[i]
		gradX[i] += scale * xb
		qbar[i] = -xb * q[i]
	}
	// h̄^{t−1} += R̄·Wᵀ; W̄ += ūᵀq + (h^{t−1})ᵀR̄ = [ū; h^{t−1}]ᵀ·[q; R̄].
	if hbar != nil {
		kernels.Sgemm(false, true, rows, k, d, 1, qbar, d, w, d, 1, hbar, k)
	}
	kernels.Sgemm(true, false, k, d, 2*rows, scale, ws.bufK[0][:2*rows*k], k, ws.bufD[0][:2*n], d, 1, gradW, d)
}
