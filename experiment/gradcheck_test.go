package experiment

import (
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/nnmf"
)

func TestGradCheckUnrolledAgainstItselfIsExact(t *testing.T) {
	c := DenseCase(21, 30, 12, 5)
	rows, err := CompareGradients(c, []nnmf.Method{nnmf.Unrolled}, []int{1, 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.MAEX != 0 || r.MAEW != 0 || r.RelX != 0 || r.RelW != 0 || math.Abs(r.CosX-1) > 1e-12 || math.Abs(r.CosW-1) > 1e-12 {
			t.Fatalf("unrolled vs unrolled: %+v", r)
		}
	}
}

// closedFormT1 computes, in float64 and independently of package nnmf, the
// approx gradients at T = 1 (spec §1.4 evaluated at h¹) and the exact
// gradients of h¹ = N(f(h⁰)) with h⁰ = 1/K (spec §1.5 for one iteration),
// both chained to V (spec §1.2).
func closedFormT1(c GradCase) (apxX, apxV, exX, exV []float64) {
	D, K := c.D, c.K
	w := make([]float64, K*D)
	s := make([]float64, K)
	for k := 0; k < K; k++ {
		for d := 0; d < D; d++ {
			s[k] += math.Abs(float64(c.V[k*D+d]))
		}
		s[k] += 1e-19
		for d := 0; d < D; d++ {
			w[k*D+d] = math.Abs(float64(c.V[k*D+d])) / s[k]
		}
	}
	apxX, exX = make([]float64, c.Rows*D), make([]float64, c.Rows*D)
	apxW, exW := make([]float64, K*D), make([]float64, K*D)
	for r := 0; r < c.Rows; r++ {
		x := make([]float64, D)
		g := make([]float64, K)
		for d := range x {
			x[d] = float64(c.X[r*D+d])
		}
		for k := range g {
			g[k] = float64(c.G[r*K+k])
		}
		h0 := 1 / float64(K)
		R0 := make([]float64, D)
		q := make([]float64, D)
		for d := 0; d < D; d++ {
			for k := 0; k < K; k++ {
				R0[d] += h0 * w[k*D+d]
			}
			R0[d] += 1e-20
			q[d] = x[d] / R0[d]
		}
		v := make([]float64, K)
		S := 1e-19
		for k := 0; k < K; k++ {
			u := 0.0
			for d := 0; d < D; d++ {
				u += w[k*D+d] * q[d]
			}
			v[k] = h0 * u
			S += v[k]
		}
		h1 := make([]float64, K)
		for k := range h1 {
			h1[k] = v[k] / S
		}
		// Exact: v̄ = g/S − (g·v)/S², ū = v̄·h⁰, q̄ = ūW, x̄ = q̄/R, R̄ = −q̄x/R²,
		// W̄ = ūᵀq + h⁰ᵀR̄.
		gv := 0.0
		for k := range g {
			gv += g[k] * v[k]
		}
		ub := make([]float64, K)
		for k := range ub {
			ub[k] = (g[k]/S - gv/(S*S)) * h0
		}
		for d := 0; d < D; d++ {
			qb := 0.0
			for k := 0; k < K; k++ {
				qb += ub[k] * w[k*D+d]
			}
			exX[r*D+d] = qb / R0[d]
			Rb := -qb * x[d] / (R0[d] * R0[d])
			for k := 0; k < K; k++ {
				exW[k*D+d] += ub[k]*q[d] + h0*Rb
			}
		}
		// Approx at h¹: R = h¹W, ρ = 1/(R+1e-20), F = xρ, gx = ρ·Σ_k h_k g_k W_kd,
		// gW += h_k F_d (g_k − gx_d).
		for d := 0; d < D; d++ {
			R, hgw := 0.0, 0.0
			for k := 0; k < K; k++ {
				R += h1[k] * w[k*D+d]
				hgw += h1[k] * g[k] * w[k*D+d]
			}
			rho := 1 / (R + 1e-20)
			gx := rho * hgw
			apxX[r*D+d] = gx
			for k := 0; k < K; k++ {
				apxW[k*D+d] += h1[k] * x[d] * rho * (g[k] - gx)
			}
		}
	}
	// Back through the L1 normalisation of each row: (g − g·x)/(Σx₀ + 1e-19).
	for _, gx := range [][]float64{apxX, exX} {
		for r := 0; r < c.Rows; r++ {
			dot := 0.0
			for d := 0; d < D; d++ {
				dot += gx[r*D+d] * float64(c.X[r*D+d])
			}
			for d := 0; d < D; d++ {
				gx[r*D+d] = (gx[r*D+d] - dot) / (c.RowSums[r] + 1e-19)
			}
		}
	}
	chain := func(G []float64) []float64 {
		out := make([]float64, K*D)
		for k := 0; k < K; k++ {
			ga := 0.0
			for d := 0; d < D; d++ {
				ga += G[k*D+d] * math.Abs(float64(c.V[k*D+d]))
			}
			for d := 0; d < D; d++ {
				sign := 0.0
				if c.V[k*D+d] > 0 {
					sign = 1
				} else if c.V[k*D+d] < 0 {
					sign = -1
				}
				out[k*D+d] = (G[k*D+d]/s[k] - ga/(s[k]*s[k])) * sign
			}
		}
		return out
	}
	return apxX, chain(apxW), exX, chain(exW)
}

func compare64(a, b []float64) (cos, mae float64) {
	var ab, aa, bb, diff float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
		diff += math.Abs(a[i] - b[i])
	}
	return ab / math.Sqrt(aa*bb), diff / float64(len(a))
}

func TestGradCheckApproxAtT1MatchesClosedForm(t *testing.T) {
	c := DenseCase(5, 40, 9, 4)
	rows, err := CompareGradients(c, []nnmf.Method{nnmf.Approx}, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	apxX, apxV, exX, exV := closedFormT1(c)
	cosX, maeX := compare64(apxX, exX)
	cosW, maeW := compare64(apxV, exV)
	t.Logf("closed form: cos_x %.6f mae_x %.3g cos_w %.6f mae_w %.3g; study: %+v", cosX, maeX, cosW, maeW, r)
	if cosX > 0.99999 || cosW > 0.99999 {
		t.Fatalf("approx and exact agree too well at T=1 for the test to tell them apart: %v %v", cosX, cosW)
	}
	if math.Abs(r.CosX-cosX) > 1e-5 || math.Abs(r.CosW-cosW) > 1e-5 ||
		math.Abs(r.MAEX-maeX) > 1e-4*maeX || math.Abs(r.MAEW-maeW) > 1e-4*maeW {
		t.Fatalf("study %+v, closed form cos_x %v mae_x %v cos_w %v mae_w %v", r, cosX, maeX, cosW, maeW)
	}
}

func TestGradCheckConvCaseFoldsToTheImage(t *testing.T) {
	const n, c, size = 2, 3, 12
	img := testBatch(7, n, c*size*size)
	gc, err := ConvCase(21, img, n, c, size, size, 6, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if gc.Rows != n*4*4 || gc.D != 108 {
		t.Fatalf("rows %d D %d, want %d and 108", gc.Rows, gc.D, n*16)
	}
	gx, _, err := gc.grads(nnmf.Approx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(gx) != n*c*size*size {
		t.Fatalf("∂L/∂x has %d values, want the image's %d", len(gx), n*c*size*size)
	}
	if _, err := ConvCase(21, img[:10], n, c, size, size, 6, 2, 10); err == nil {
		t.Fatal("short image data accepted")
	}
	rows, err := CompareGradients(gc, GradMethods, []int{2})
	if err != nil || len(rows) != len(GradMethods) {
		t.Fatalf("%v %v", rows, err)
	}
	// Determinism: the same case and seed give identical rows.
	again, _ := CompareGradients(gc, GradMethods, []int{2})
	for i := range rows {
		if rows[i] != again[i] {
			t.Fatalf("not deterministic: %+v vs %+v", rows[i], again[i])
		}
	}
}

func TestWriteGradStudy(t *testing.T) {
	o := DefaultGradStudy()
	o.Iterations = []int{1, 4}
	o.DenseRows = 20
	img := testBatch(2, 2, 3*16*16)
	o.ConvImages, o.ConvN, o.ConvSize = img, 2, 16
	rows, err := GradStudy(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2*2*len(GradMethods) {
		t.Fatalf("%d rows", len(rows))
	}
	dir := t.TempDir()
	files, err := WriteGradStudy(dir, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2+2*2 {
		t.Fatalf("files %v", files)
	}
	checkFigures(t, files)
	back, err := ReadGradStudy(dir)
	if err != nil || len(back) != len(rows) || back[3] != rows[3] {
		t.Fatalf("read back %v %v", back, err)
	}
}
