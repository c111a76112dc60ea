package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// Weights trained by the authors' PyTorch code, opened and evaluated through
// the public API alone, score exactly PyTorch's test accuracy.
func TestOpenModelEvaluatesPyTorchWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("a full CIFAR-10 test pass")
	}
	var want struct {
		Correct int `json:"correct"`
		Total   int `json:"n"`
	}
	sharedtest.ReadJSON(t, &want, "golden", "torch_cnmf_1x1", "accuracy.json")
	dir := sharedtest.Path(t, "golden", "torch_cnmf_1x1")
	m, err := OpenModel(ModelSource{Weights: filepath.Join(dir, "model.safetensors"), Config: filepath.Join(dir, "network.json")},
		OpenOptions{Dataset: "cifar10", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ds, err := data.Load("cifar10", filepath.Dir(sharedtest.Path(t, "data", "cifar10")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Evaluate(context.Background(), ds, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Correct != want.Correct || r.N != want.Total {
		t.Errorf("%d/%d correct, PyTorch: %d/%d", r.Correct, r.N, want.Correct, want.Total)
	}
}
