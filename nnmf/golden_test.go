package nnmf

import (
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// nchwToRows turns [N,C,H,W] into rows × C with rows in (n, h, w) order.
func nchwToRows(g sharedtest.Tensor) []float32 {
	n, c, hh, ww := g.Shape[0], g.Shape[1], g.Shape[2], g.Shape[3]
	out := make([]float32, len(g.Data))
	for in := 0; in < n; in++ {
		for ic := 0; ic < c; ic++ {
			for p := 0; p < hh*ww; p++ {
				out[(in*hh*ww+p)*c+ic] = g.Data[(in*c+ic)*hh*ww+p]
			}
		}
	}
	return out
}

// relErr is ‖a−b‖/‖b‖ in float64.
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		e := float64(a[i]) - float64(b[i])
		num += e * e
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}

func TestGolden(t *testing.T) {
	for _, file := range []string{"nnmf2d_t1.json", "nnmf2d_t5.json", "nnmf2d_t20.json", "nnmf2d_wide.json"} {
		t.Run(file, func(t *testing.T) {
			g := sharedtest.Tensors(t, file)
			in := g["input"]
			v := g["weight_raw"]
			k, d := v.Shape[0], v.Shape[1]
			rows := in.Shape[0] * in.Shape[2] * in.Shape[3]
			x := nchwToRows(in)
			gradH := nchwToRows(g["grad_output"])
			wantH := nchwToRows(g["output"])
			iters := map[string]int{"nnmf2d_t1.json": 1, "nnmf2d_t5.json": 5}[file]
			if iters == 0 {
				iters = 20
			}
			w := make([]float32, k*d)
			NormalizeWeights(v.Data, w, k, d)
			for _, m := range []Method{Approx, Unrolled} {
				layer, err := New(Config{In: d, Out: k, Iterations: iters, Method: m})
				if err != nil {
					t.Fatal(err)
				}
				// Split the rows over two calls, as a sharded caller does.
				ws := layer.NewWorkspace(rows)
				h := make([]float32, rows*k)
				gradX := make([]float32, rows*d)
				gradW := make([]float32, k*d)
				for _, span := range [][2]int{{0, rows / 3}, {rows / 3, rows}} {
					lo, hi := span[0], span[1]
					xs, hs := x[lo*d:hi*d], h[lo*k:hi*k]
					if err := layer.Forward(ws, xs, hi-lo, w, hs, true); err != nil {
						t.Fatal(err)
					}
					if err := layer.Backward(ws, xs, hi-lo, w, hs, gradH[lo*k:hi*k], gradX[lo*d:hi*d], gradW); err != nil {
						t.Fatal(err)
					}
				}
				gradV := make([]float32, k*d)
				RawWeightGrad(v.Data, gradW, gradV, k, d)
				prefix := map[Method]string{Approx: "approx", Unrolled: "unrolled"}[m]
				check := func(name string, got, want []float32) {
					t.Helper()
					if e := relErr(got, want); !(e <= 1e-5) {
						t.Errorf("%v %s: relative error %.3g > 1e-5", m, name, e)
					} else {
						t.Logf("%v %s: relative error %.3g", m, name, e)
					}
				}
				check("output", h, wantH)
				check("grad_input", gradX, nchwToRows(g[prefix+"_grad_input"]))
				check("grad_weight_raw", gradV, g[prefix+"_grad_weight_raw"].Data)
			}
		})
	}
}
