package train

import (
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// The official loss_function (mode 0) evaluated by PyTorch on the golden
// networks' outputs: train.Loss must give the same float32 value.
func TestLossMatchesPyTorchGolden(t *testing.T) {
	for _, name := range []string{"net_cnmf_1x1.json", "net_cnn_perturbed.json", "net_cnmf_1x1_mnist.json"} {
		ts := sharedtest.Tensors(t, name)
		out, lab, want := ts["output"], ts["labels"], ts["loss"]
		classes := out.Shape[1]
		labels := make([]int, len(lab.Data))
		for i, v := range lab.Data {
			labels[i] = int(v)
		}
		grad := make([]float32, len(out.Data))
		got, err := Loss(LossMSEKL, out.Data, labels, classes, grad)
		if err != nil {
			t.Fatal(err)
		}
		// PyTorch reduces in float32; allow a few float32 ulps.
		if w := float64(want.Data[0]); math.Abs(float64(got)-w) > 4e-7*math.Abs(w) {
			t.Errorf("%s: loss %.9g, PyTorch %.9g", name, got, w)
		}
	}
}
