package experiment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nnmf"
)

// GradCase is one NNMF layer with fixed data on which the backward methods are
// compared (spec §1.7): input rows X (Rows × D, non-negative, L1-normalised),
// raw weight V (K × D) and an upstream gradient G = ∂L/∂h (Rows × K).
//
// ∂L/∂x is compared after the backward of the L1 normalisation that precedes
// every NNMF layer in the networks (x = x₀/(Σx₀ + 1e-19) per row, RowSums
// holding Σx₀): that backward removes a per-row constant from ∂L/∂x, and
// approx omits exactly such a constant (spec §1.4), so comparing before it
// would count as error what the network never sees.
type GradCase struct {
	Name       string
	Rows, D, K int
	X, V, G    []float32
	RowSums    []float64
	// Fold, when set, folds ∂L/∂X (the unfolded patches) back to the image
	// (the adjoint of the patch extraction) before it is compared, so that a
	// convolutional layer is compared on the gradient of its input image.
	Fold *kernels.UnfoldGeom
}

// GradRow is one comparison of a method against unrolled backprop at T
// iterations: cosine similarity, mean absolute error and relative L2 error
// ‖a−b‖/‖b‖ of ∂L/∂x and of ∂L/∂V (the raw weight, i.e. what the optimiser gets).
type GradRow struct {
	Case       string  `json:"case"`
	Method     string  `json:"method"`
	Iterations int     `json:"iterations"`
	CosX       float64 `json:"cos_x"`
	MAEX       float64 `json:"mae_x"`
	RelX       float64 `json:"rel_x"`
	CosW       float64 `json:"cos_w"`
	MAEW       float64 `json:"mae_w"`
	RelW       float64 `json:"rel_w"`
}

// GradMethods are the methods compared against unrolled; unrolled itself is
// compared too, from a second independent computation, so that its row shows
// the comparison's own noise floor (zero: the computation is deterministic).
var GradMethods = []nnmf.Method{nnmf.Approx, nnmf.LastIter, nnmf.LastIterSqrtT, nnmf.Implicit, nnmf.Unrolled}

// DefaultGradIterations are the T of the study (spec §1.7).
var DefaultGradIterations = []int{1, 5, 10, 20, 50, 100}

// gradStream keys the gradient study's streams apart from other uses of the seed.
const gradStream = 0x67726164 // "grad"

func caseRand(seed uint64, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, gradStream<<32|purpose))
}

// DenseCase is a dense NNMF layer on random data: rows of U[0,1) values
// L1-normalised (as the L1Norm before every NNMF layer leaves them), V
// uniform in [0,1) (the official initialisation) and G standard normal.
func DenseCase(seed uint64, rows, d, k int) GradCase {
	r := caseRand(seed, 1)
	c := GradCase{Name: "dense", Rows: rows, D: d, K: k,
		X: make([]float32, rows*d), V: make([]float32, k*d), G: make([]float32, rows*k)}
	for i := range c.X {
		c.X[i] = r.Float32()
	}
	c.normalizeRows()
	fillWeightsAndGrad(&c, r)
	return c
}

func fillWeightsAndGrad(c *GradCase, r *rand.Rand) {
	for i := range c.V {
		c.V[i] = r.Float32()
	}
	for i := range c.G {
		c.G[i] = float32(r.NormFloat64())
	}
}

// ConvCase is a convolutional NNMF layer on real images (n images, NCHW,
// C×H×W each, values in [0,1]): their patches of kernel×kernel at stride
// `stride` (PyTorch's Unfold order), each L1-normalised, factorised into k
// channels: the CNMF module Unfold → L1Norm → NNMF (its ReLU is the identity
// on images). ∂L/∂x is compared on the input image, through the L1Norm and
// the adjoint of the patch extraction.
func ConvCase(seed uint64, images []float32, n, c, h, w, kernel, stride, k int) (GradCase, error) {
	g := kernels.UnfoldGeom{N: n, C: c, H: h, W: w, KH: kernel, KW: kernel, StrideH: stride, StrideW: stride, DilH: 1, DilW: 1}
	if err := g.Validate(); err != nil {
		return GradCase{}, fmt.Errorf("gradient study: convolutional case: %w", err)
	}
	if len(images) < g.InputLen() {
		return GradCase{}, fmt.Errorf("gradient study: %d image values, want %d images of %d×%d×%d", len(images), n, c, h, w)
	}
	rows, d := g.Rows(), g.Cols()
	gc := GradCase{Name: "conv", Rows: rows, D: d, K: k,
		X: make([]float32, rows*d), V: make([]float32, k*d), G: make([]float32, rows*k), Fold: &g}
	if err := kernels.UnfoldNCHW(g, images[:g.InputLen()], gc.X); err != nil {
		return GradCase{}, err
	}
	gc.normalizeRows()
	fillWeightsAndGrad(&gc, caseRand(seed, 2))
	return gc, nil
}

// l1Guard is the guard of the networks' L1NormLayer (the official 10e-20).
const l1Guard = kernels.NormGuard

// normalizeRows L1-normalises X row by row as the networks' L1NormLayer does
// and keeps the sums for its backward.
func (c *GradCase) normalizeRows() {
	c.RowSums = make([]float64, c.Rows)
	for r := 0; r < c.Rows; r++ {
		row := c.X[r*c.D : (r+1)*c.D]
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		c.RowSums[r] = s
		d := float32(s) + l1Guard
		for i, v := range row {
			row[i] = v / d
		}
	}
}

// l1Backward turns ∂L/∂x (normalised rows) into ∂L/∂x₀ in place:
// (g_j − Σ_c g_c x_c) / (Σx₀ + 1e-19), in float64.
func (c GradCase) l1Backward(gx []float32) {
	for r := 0; r < c.Rows; r++ {
		g, x := gx[r*c.D:(r+1)*c.D], c.X[r*c.D:(r+1)*c.D]
		var dot float64
		for i := range g {
			dot += float64(g[i]) * float64(x[i])
		}
		den := c.RowSums[r] + float64(l1Guard)
		for i := range g {
			g[i] = float32((float64(g[i]) - dot) / den)
		}
	}
}

// grads runs the layer with T iterations and the method, and returns ∂L/∂x
// (folded if the case says so) and ∂L/∂V.
func (c GradCase) grads(method nnmf.Method, iterations int) (gx, gv []float32, err error) {
	l, err := nnmf.New(nnmf.Config{Name: c.Name, In: c.D, Out: c.K, Iterations: iterations, Method: method})
	if err != nil {
		return nil, nil, err
	}
	ws := l.NewWorkspace(c.Rows)
	w := make([]float32, c.K*c.D)
	nnmf.NormalizeWeights(c.V, w, c.K, c.D)
	h := make([]float32, c.Rows*c.K)
	if err := l.Forward(ws, c.X, c.Rows, w, h, true); err != nil {
		return nil, nil, fmt.Errorf("%s case, T=%d: %w", c.Name, iterations, err)
	}
	gx = make([]float32, c.Rows*c.D)
	gw := make([]float32, c.K*c.D)
	if err := l.Backward(ws, c.X, c.Rows, w, h, c.G, gx, gw); err != nil {
		return nil, nil, fmt.Errorf("%s case, %s backward, T=%d: %w", c.Name, method, iterations, err)
	}
	c.l1Backward(gx)
	gv = make([]float32, c.K*c.D)
	nnmf.RawWeightGrad(c.V, gw, gv, c.K, c.D)
	if c.Fold != nil {
		img := make([]float32, c.Fold.InputLen())
		if err := kernels.FoldNCHW(*c.Fold, gx, img); err != nil {
			return nil, nil, err
		}
		gx = img
	}
	return gx, gv, nil
}

// CompareGradients compares every method with unrolled backprop at every T.
func CompareGradients(c GradCase, methods []nnmf.Method, iterations []int) ([]GradRow, error) {
	var out []GradRow
	for _, t := range iterations {
		if t < 1 {
			return nil, fmt.Errorf("gradient study: iterations must be at least 1, got %d", t)
		}
		refX, refV, err := c.grads(nnmf.Unrolled, t)
		if err != nil {
			return nil, err
		}
		for _, m := range methods {
			gx, gv, err := c.grads(m, t)
			if err != nil {
				return nil, err
			}
			row := GradRow{Case: c.Name, Method: m.String(), Iterations: t}
			row.CosX, row.MAEX, row.RelX = compare(gx, refX)
			row.CosW, row.MAEW, row.RelW = compare(gv, refV)
			out = append(out, row)
		}
	}
	return out, nil
}

// compare returns the cosine similarity of a and b, the mean absolute
// difference and ‖a−b‖/‖b‖, accumulated in float64.
func compare(a, b []float32) (cos, mae, rel float64) {
	var ab, aa, bb, diff, d2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
		diff += math.Abs(x - y)
		d2 += (x - y) * (x - y)
	}
	mae = diff / float64(len(a))
	// Zero vectors have no direction: equal ones count as aligned, and the
	// error of a zero reference is absolute. Either way no NaN reaches the JSON.
	switch {
	case aa == 0 && bb == 0:
		return 1, mae, 0
	case aa == 0 || bb == 0:
		return 0, mae, math.Sqrt(d2)
	}
	return ab / math.Sqrt(aa*bb), mae, math.Sqrt(d2 / bb)
}
