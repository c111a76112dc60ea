package nnmf

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
)

// allPaths runs f on every CPU path this machine and build support.
func allPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	start := kernels.ActivePath()
	defer kernels.ForcePath(start)
	for p := kernels.PathGeneric; p <= kernels.SupportedPath(); p++ {
		if _, err := kernels.ForcePath(p); err != nil {
			t.Fatal(err)
		}
		t.Run(p.String(), f)
	}
}

// forward64 is the float64 twin of the forward (spec §1.2-1.3) from the raw
// weight v, for finite differences.
func forward64(x, v []float64, rows, k, d, iters int, useEps bool, eps float64, hStart []float64) []float64 {
	w := make([]float64, k*d)
	for kk := 0; kk < k; kk++ {
		var s float64
		for j := 0; j < d; j++ {
			s += math.Abs(v[kk*d+j])
		}
		for j := 0; j < d; j++ {
			w[kk*d+j] = math.Abs(v[kk*d+j]) / (s + 1e-19)
		}
	}
	h := make([]float64, rows*k)
	r := make([]float64, d)
	for row := 0; row < rows; row++ {
		hr := h[row*k : row*k+k]
		for kk := range hr {
			if hStart != nil {
				hr[kk] = hStart[row*k+kk]
			} else {
				hr[kk] = 1 / float64(k)
			}
		}
		for it := 0; it < iters; it++ {
			for j := 0; j < d; j++ {
				var s float64
				for kk := 0; kk < k; kk++ {
					s += hr[kk] * w[kk*d+j]
				}
				r[j] = x[row*d+j] / (s + 1e-20)
			}
			var sum float64
			for kk := 0; kk < k; kk++ {
				var u float64
				for j := 0; j < d; j++ {
					u += w[kk*d+j] * r[j]
				}
				if useEps {
					hr[kk] *= 1 + eps*u
				} else {
					hr[kk] *= u
				}
				sum += hr[kk]
			}
			for kk := range hr {
				hr[kk] /= sum + 1e-19
			}
		}
	}
	return h
}

func to64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// numGrad returns the central-difference gradient of loss over p.
func numGrad(p []float64, loss func() float64) []float64 {
	g := make([]float64, len(p))
	for i := range p {
		old := p[i]
		step := 1e-6 * math.Max(math.Abs(old), 1e-3)
		p[i] = old + step
		lp := loss()
		p[i] = old - step
		lm := loss()
		p[i] = old
		g[i] = (lp - lm) / (2 * step)
	}
	return g
}

func rel64(a []float32, b []float64) float64 {
	var num, den float64
	for i := range b {
		e := float64(a[i]) - b[i]
		num += e * e
		den += b[i] * b[i]
	}
	return math.Sqrt(num / den)
}

func dot64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

type problem struct {
	rows, k, d int
	x, v, w, g []float32
}

func newProblem(rows, k, d int, seed uint64) problem {
	x, v, w := randomProblem(rows, d, k, seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	g := make([]float32, rows*k)
	for i := range g {
		g[i] = rng.Float32()*2 - 1
	}
	return problem{rows, k, d, x, v, w, g}
}

// run does Forward + Backward of cfg on p and returns h, gradX and gradV.
func (p problem) run(t testing.TB, cfg Config) (h, gradX, gradV []float32) {
	t.Helper()
	cfg.In, cfg.Out = p.d, p.k
	layer, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ws := layer.NewWorkspace(p.rows)
	h = make([]float32, p.rows*p.k)
	gradX = make([]float32, p.rows*p.d)
	gradW := make([]float32, p.k*p.d)
	if err := layer.Forward(ws, p.x, p.rows, p.w, h, true); err != nil {
		t.Fatal(err)
	}
	if err := layer.Backward(ws, p.x, p.rows, p.w, h, p.g, gradX, gradW); err != nil {
		t.Fatal(err)
	}
	gradV = make([]float32, p.k*p.d)
	RawWeightGrad(p.v, gradW, gradV, p.k, p.d)
	return h, gradX, gradV
}

func TestUnrolledMatchesFiniteDifferences(t *testing.T) {
	allPaths(t, func(t *testing.T) {
		for _, c := range []struct {
			rows, k, d, iters int
			useEps            bool
		}{{3, 4, 7, 1, false}, {3, 4, 7, 6, false}, {2, 5, 12, 20, false}, {3, 3, 9, 5, true}} {
			p := newProblem(c.rows, c.k, c.d, uint64(c.iters))
			const eps = 0.25
			_, gradX, gradV := p.run(t, Config{Iterations: c.iters, Method: Unrolled, UseEpsilon: c.useEps, Epsilon: eps})
			x64, v64, g64 := to64(p.x), to64(p.v), to64(p.g)
			loss := func() float64 {
				return dot64(forward64(x64, v64, c.rows, c.k, c.d, c.iters, c.useEps, eps, nil), g64)
			}
			if e := rel64(gradX, numGrad(x64, loss)); e > 1e-4 {
				t.Errorf("%+v: grad x relative error %.3g", c, e)
			}
			if e := rel64(gradV, numGrad(v64, loss)); e > 1e-4 {
				t.Errorf("%+v: grad V relative error %.3g", c, e)
			}
		}
	})
}

// The last-iteration gradient is the derivative of one tracked update from a
// constant h^{T−1}; a float64 finite difference of exactly that map is an
// independent derivation of it.
func TestLastIterMatchesOneStepDerivative(t *testing.T) {
	for _, useEps := range []bool{false, true} {
		const rows, k, d, iters, eps = 3, 4, 8, 7, 0.5
		p := newProblem(rows, k, d, 11)
		cfg := Config{Iterations: iters, Method: LastIter, UseEpsilon: useEps, Epsilon: eps}
		_, gradX, gradV := p.run(t, cfg)
		cfg.Method = LastIterSqrtT
		_, gradXs, gradVs := p.run(t, cfg)

		x64, v64, g64 := to64(p.x), to64(p.v), to64(p.g)
		hPrev := forward64(x64, v64, rows, k, d, iters-1, useEps, eps, nil)
		loss := func() float64 { return dot64(forward64(x64, v64, rows, k, d, 1, useEps, eps, hPrev), g64) }
		wantX, wantV := numGrad(x64, loss), numGrad(v64, loss)
		if e := rel64(gradX, wantX); e > 1e-4 {
			t.Errorf("eps=%v: last_iter grad x relative error %.3g", useEps, e)
		}
		if e := rel64(gradV, wantV); e > 1e-4 {
			t.Errorf("eps=%v: last_iter grad V relative error %.3g", useEps, e)
		}
		s := math.Sqrt(iters)
		for i := range wantX {
			wantX[i] *= s
		}
		for i := range wantV {
			wantV[i] *= s
		}
		if e := rel64(gradXs, wantX); e > 1e-4 {
			t.Errorf("eps=%v: last_iter_sqrt_t grad x relative error %.3g", useEps, e)
		}
		if e := rel64(gradVs, wantV); e > 1e-4 {
			t.Errorf("eps=%v: last_iter_sqrt_t grad V relative error %.3g", useEps, e)
		}
	}
}

// On inputs where the iteration converges, the implicit gradient at h^T is
// the limit of the unrolled gradient as T grows.
func TestImplicitApproachesUnrolled(t *testing.T) {
	// x = mixture of the dictionary rows, so a fixed point with h > 0 exists
	// and the multiplicative updates converge to it.
	const rows, k, d = 4, 3, 8
	p := newProblem(rows, k, d, 5)
	rng := rand.New(rand.NewPCG(8, 8))
	for r := 0; r < rows; r++ {
		mix := []float32{0.2 + rng.Float32(), 0.2 + rng.Float32(), 0.2 + rng.Float32()}
		var s float32
		for j := 0; j < d; j++ {
			var v float32
			for kk := 0; kk < k; kk++ {
				v += mix[kk] * p.w[kk*d+j]
			}
			p.x[r*d+j] = v
			s += v
		}
		for j := 0; j < d; j++ {
			p.x[r*d+j] /= s
		}
	}
	for _, useEps := range []bool{false, true} {
		prev := math.Inf(1)
		for _, iters := range []int{5, 50, 500} {
			cfg := Config{Iterations: iters, Method: Unrolled, UseEpsilon: useEps, Epsilon: 2}
			_, ux, uv := p.run(t, cfg)
			cfg.Method = Implicit
			_, ix, iv := p.run(t, cfg)
			e := math.Max(rel64(ix, to64(ux)), rel64(iv, to64(uv)))
			t.Logf("eps=%v T=%d: relative difference implicit vs unrolled %.3g", useEps, iters, e)
			if e >= prev {
				t.Errorf("eps=%v T=%d: difference %.3g did not shrink (was %.3g)", useEps, iters, e, prev)
			}
			prev = e
		}
		if prev > 1e-4 {
			t.Errorf("eps=%v: implicit vs unrolled at T=500: relative difference %.3g > 1e-4", useEps, prev)
		}
	}
}

// Dead (all-zero) rows have h = 0 and S = 1e-19; their implicit gradient
// must stay finite.
func TestImplicitDeadRow(t *testing.T) {
	const rows, k, d = 2, 3, 6
	p := newProblem(rows, k, d, 21)
	for j := 0; j < d; j++ {
		p.x[d+j] = 0
	}
	_, gx, gv := p.run(t, Config{Iterations: 20, Method: Implicit})
	for _, s := range [][]float32{gx, gv} {
		if i := kernels.FirstNonFinite(s); i >= 0 {
			t.Fatalf("non-finite gradient at %d", i)
		}
	}
}

func TestSolveRowFallback(t *testing.T) {
	const k = 3
	lu, tmp, piv := make([]float64, k*k), make([]float64, k), make([]int, k)
	// Regular: LU.
	a := []float64{4, 1, 0, 1, 3, 1, 0, 1, 2}
	want := []float64{1, -2, 3}
	rhs := make([]float64, k)
	for i := 0; i < k; i++ {
		rhs[i] = dot64(a[i*k:i*k+k], want)
	}
	solveRow(a, rhs, lu, tmp, piv, k)
	for i := range want {
		if math.Abs(rhs[i]-want[i]) > 1e-12 {
			t.Fatalf("regular solve: got %v, want %v", rhs, want)
		}
	}
	// Singular (rank 2) with a consistent right-hand side: the ridge solution
	// is the minimum-norm one, [1 1 0] for these rows.
	a = []float64{1, 1, 0, 1, 1, 0, 0, 0, 0}
	rhs = []float64{2, 2, 0}
	solveRow(a, rhs, lu, tmp, piv, k)
	for i, w := range []float64{1, 1, 0} {
		if math.Abs(rhs[i]-w) > 1e-6 {
			t.Fatalf("singular solve: got %v, want [1 1 0]", rhs)
		}
	}
}

func TestLocalRulesMatchFormulas(t *testing.T) {
	const rows, k, d = 5, 4, 9
	p := newProblem(rows, k, d, 17)
	hA, gxA, _ := p.run(t, Config{Iterations: 6})
	for _, c := range []struct {
		kl     bool
		method Method // ignored: local learning defines both gradients
	}{{false, Approx}, {true, Approx}, {false, Unrolled}, {true, Implicit}} {
		kl := c.kl
		cfg := Config{In: d, Out: k, Iterations: 6, LocalLearning: true, LocalLearningKL: kl, Method: c.method}
		layer, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ws := layer.NewWorkspace(rows)
		h := make([]float32, rows*k)
		gx := make([]float32, rows*d)
		gw := make([]float32, k*d)
		if err := layer.Forward(ws, p.x, rows, p.w, h, true); err != nil {
			t.Fatal(err)
		}
		if err := layer.Backward(ws, p.x, rows, p.w, h, p.g, gx, gw); err != nil {
			t.Fatal(err)
		}
		if e := relErr(h, hA); e != 0 {
			t.Errorf("kl=%v: forward differs from the approx layer's", kl)
		}
		if e := relErr(gx, gxA); e > 1e-6 {
			t.Errorf("kl=%v: grad x differs from §1.4 by %.3g", kl, e)
		}
		want := make([]float64, k*d)
		for r := 0; r < rows; r++ {
			for j := 0; j < d; j++ {
				var rec float64
				for kk := 0; kk < k; kk++ {
					rec += float64(h[r*k+kk]) * float64(p.w[kk*d+j])
				}
				for kk := 0; kk < k; kk++ {
					hv, xv := float64(h[r*k+kk]), float64(p.x[r*d+j])
					if kl {
						want[kk*d+j] -= hv * xv / (rec + 1e-20)
					} else {
						want[kk*d+j] -= hv * 2 * (xv - rec)
					}
				}
			}
		}
		if e := rel64(gw, want); e > 1e-5 {
			t.Errorf("kl=%v: grad W relative error %.3g", kl, e)
		}
	}
}

func TestForwardProperties(t *testing.T) {
	allPaths(t, func(t *testing.T) {
		const rows, k, d = 9, 7, 20
		p := newProblem(rows, k, d, 3)
		for j := 0; j < d; j++ {
			p.x[4*d+j] = 0 // a dead row
		}
		layer, err := New(Config{In: d, Out: k, Iterations: 20})
		if err != nil {
			t.Fatal(err)
		}
		ws := layer.NewWorkspace(rows)
		h := make([]float32, rows*k)
		if err := layer.Forward(ws, p.x, rows, p.w, h, false); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rows; r++ {
			var s float64
			for kk := 0; kk < k; kk++ {
				if h[r*k+kk] < 0 {
					t.Errorf("h[%d][%d] = %g < 0", r, kk, h[r*k+kk])
				}
				s += float64(h[r*k+kk])
			}
			want := 1.0
			if r == 4 {
				want = 0
			}
			if math.Abs(s-want) > 1e-5 {
				t.Errorf("row %d sums to %.8f, want %g", r, s, want)
			}
		}
		// Invariance to the scale of x: x/R and hence u scale by c, which the
		// renormalisation removes.
		scaled := make([]float32, len(p.x))
		for i, v := range p.x {
			scaled[i] = 3.7 * v
		}
		hs := make([]float32, rows*k)
		if err := layer.Forward(ws, scaled, rows, p.w, hs, false); err != nil {
			t.Fatal(err)
		}
		if e := relErr(hs, h); e > 1e-5 {
			t.Errorf("scaling x by 3.7 changed h by %.3g relative", e)
		}
		// Rows are independent: any split into calls gives the same bits.
		hSplit := make([]float32, rows*k)
		for _, span := range [][2]int{{0, 1}, {1, 6}, {6, rows}} {
			lo, hi := span[0], span[1]
			if err := layer.Forward(ws, p.x[lo*d:hi*d], hi-lo, p.w, hSplit[lo*k:hi*k], false); err != nil {
				t.Fatal(err)
			}
		}
		for i := range h {
			if h[i] != hSplit[i] {
				t.Fatalf("h[%d] = %g on all rows, %g when split", i, h[i], hSplit[i])
			}
		}
	})
}

func TestErrors(t *testing.T) {
	for _, cfg := range []Config{
		{In: 0, Out: 3, Iterations: 1},
		{In: 3, Out: 3, Iterations: 0},
		{In: 3, Out: 3, Iterations: 1, Method: Method(9)},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	p := newProblem(3, 4, 6, 1)
	layer, err := New(Config{Name: "layer 4", In: 6, Out: 4, Iterations: 3})
	if err != nil {
		t.Fatal(err)
	}
	ws := layer.NewWorkspace(3)
	h := make([]float32, 3*4)
	gx := make([]float32, 3*6)
	gw := make([]float32, 4*6)
	if err := layer.Forward(ws, p.x, 4, p.w, h, true); err == nil {
		t.Error("Forward with more rows than the workspace holds succeeded")
	}
	if err := layer.Backward(ws, p.x, 3, p.w, h, p.g, gx, gw); err == nil {
		t.Error("Backward without a Forward succeeded")
	}
	bad := append([]float32(nil), p.x...)
	bad[7] = float32(math.Inf(1))
	err = layer.Forward(ws, bad, 3, p.w, h, true)
	if !errors.Is(err, ErrNotFinite) {
		t.Errorf("Forward on an infinite input: %v, want ErrNotFinite", err)
	}
	if err := layer.Forward(ws, p.x, 3, p.w, h, true); err != nil {
		t.Fatal(err)
	}
	// A shard can get no rows at all.
	if err := layer.Forward(ws, nil, 0, p.w, nil, true); err != nil {
		t.Errorf("Forward on 0 rows: %v", err)
	}
	if err := layer.Backward(ws, nil, 0, p.w, nil, nil, nil, gw); err != nil {
		t.Errorf("Backward on 0 rows: %v", err)
	}
	if err := layer.Forward(ws, p.x, 3, p.w, h, true); err != nil {
		t.Fatal(err)
	}
	badG := append([]float32(nil), p.g...)
	badG[2] = float32(math.NaN())
	if err := layer.Backward(ws, p.x, 3, p.w, h, badG, gx, gw); !errors.Is(err, ErrNotFinite) {
		t.Errorf("Backward with a NaN gradient: %v, want ErrNotFinite", err)
	}
}

func TestParseMethod(t *testing.T) {
	for m := Approx; m <= Implicit; m++ {
		got, err := ParseMethod(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMethod("exact"); err == nil {
		t.Error("ParseMethod(exact) succeeded")
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	p := newProblem(300, 32, 75, 2)
	for m := Approx; m <= Implicit; m++ {
		layer, err := New(Config{In: 75, Out: 32, Iterations: 4, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		ws := layer.NewWorkspace(p.rows)
		h := make([]float32, p.rows*p.k)
		gx := make([]float32, p.rows*p.d)
		gw := make([]float32, p.k*p.d)
		if a := testing.AllocsPerRun(5, func() {
			if err := layer.Forward(ws, p.x, p.rows, p.w, h, true); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: Forward allocates %v times per call", m, a)
		}
		if a := testing.AllocsPerRun(5, func() {
			if err := layer.Backward(ws, p.x, p.rows, p.w, h, p.g, gx, gw); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: Backward allocates %v times per call", m, a)
		}
	}
}
