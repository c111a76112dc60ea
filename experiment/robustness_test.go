package experiment

import (
	"context"
	"testing"

	"github.com/deepnmf/deepnmf/data"
)

// blackEvaluator counts an image as correct when the corruption left its
// first element non-zero, and checks that every batch arrives in file order.
type blackEvaluator struct {
	t  *testing.T
	ds *data.Dataset
	B  int
}

func (e blackEvaluator) Evaluate(ctx context.Context, corrupt func(int, []float32, int) error, progress func(int)) (int, int, error) {
	L := e.ds.Test.ImageSize()
	correct := 0
	for b := 0; b*e.B < e.ds.Test.N; b++ {
		n := min(e.B, e.ds.Test.N-b*e.B)
		full := make([]float32, n*L)
		for j := range n {
			for i, v := range e.ds.Test.Image(b*e.B + j) {
				full[j*L+i] = float32(v) / 255
			}
		}
		if err := corrupt(b, full, n); err != nil {
			return 0, 0, err
		}
		for j := range n {
			if full[j*L] != 0 {
				correct++
			}
		}
		progress(n)
	}
	return correct, e.ds.Test.N, nil
}

func TestRobustnessSweep(t *testing.T) {
	ds := &data.Dataset{Info: data.Info{Name: "tiny"}, Train: *trainSplit(12, 4), Test: *trainSplit(7, 4)}
	for i := range ds.Test.Images {
		ds.Test.Images[i] |= 1 // no black pixels: only holes make zeros
	}
	images := 0
	rows, err := Robustness(context.Background(), []RobustnessModel{{Run: "r", Model: "m", Dataset: ds, BatchSize: 3, Eval: blackEvaluator{t, ds, 3}}},
		[]Noise{Holes, Uniform}, 21, func(n int) { images += n })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 42 || images != 42*7 {
		t.Fatalf("%d rows, %d images", len(rows), images)
	}
	h0, h20, u20 := rows[0], rows[20], rows[41]
	if h0.Noise != "holes" || h0.Correct != 7 || h0.Accuracy != 100 || h20.Eta != 1 || h20.Correct != 0 || u20.Noise != "uniform" || u20.Correct != 7 {
		t.Fatalf("%+v %+v %+v", h0, h20, u20)
	}
}
