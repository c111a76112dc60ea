package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// saveMNISTWeights writes freshly initialised cnmf_1x1 weights for 1×24×24
// input (MNIST-shaped), with the given safetensors metadata.
func saveMNISTWeights(t *testing.T, path string, meta map[string]string) {
	t.Helper()
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.Build(cfg, nn.Shape{C: 1, H: 24, W: 24}, 1, nn.Options{Threads: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SaveWeights(path, meta); err != nil {
		t.Fatal(err)
	}
}

func writePNG(t *testing.T, path string, img image.Image) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// Weights saved by deepnmf carry their config, so predict, like eval, needs no
// --config with them.
func TestPredictConfigFromWeights(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	saveMNISTWeights(t, weights, nil)
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	path := writePNG(t, filepath.Join(dir, "digit.png"), img)
	out, err := execute("predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", "--top", "1", path)
	if err != nil || !strings.HasPrefix(out, path+":") {
		t.Fatalf("predict --weights without --config: %v\n%s", err, out)
	}
}

// Errors about a network that does not fit name its config and what it was
// built for: the weights' shapes alone do not tell a user that MNIST weights
// were used on CIFAR-10.
func TestNetworkErrorsNameTheConfig(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "mnist.safetensors")
	saveMNISTWeights(t, weights, nil)
	img := writePNG(t, filepath.Join(dir, "x.png"), image.NewRGBA(image.Rect(0, 0, 32, 32)))
	out, err := execute("predict", "--weights", weights, "--config", "cnmf_1x1", "--threads", "1", img)
	if err == nil || !strings.Contains(out, "built from cnmf_1x1 for cifar10 input 3×28×28") {
		t.Errorf("MNIST weights on CIFAR-10: %v\n%s", err, out)
	}
	out, err = execute("inspect", "--model", "cnmf_1x1", "--input", "3,8,8")
	if err == nil || !strings.Contains(out, "cnmf_1x1 on input 3×8×8") {
		t.Errorf("inspect on a too small input: %v\n%s", err, out)
	}
	// A config whose last block does not give one output per class.
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumberOfNeuronsA[len(cfg.NumberOfNeuronsA)-1] = 7
	raw, err := cfg.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	seven := filepath.Join(dir, "seven.json")
	if err := os.WriteFile(seven, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execute("predict", "--weights", weights, "--config", seven, "--threads", "1", img)
	if err == nil || !strings.Contains(out, "network of "+seven+" has 7 outputs") {
		t.Errorf("7-output config: %v\n%s", err, out)
	}
}

// A weights file that is missing is reported as such, without a hint about
// configs and datasets; so is a run directory that holds no weights yet.
func TestMissingWeightsNamedPlainly(t *testing.T) {
	dir := t.TempDir()
	img := writePNG(t, filepath.Join(dir, "x.png"), image.NewRGBA(image.Rect(0, 0, 32, 32)))
	missing := filepath.Join(dir, "none.safetensors")
	out, err := execute("predict", "--weights", missing, "--config", "cnmf_1x1", "--threads", "1", img)
	if err == nil || !strings.Contains(out, missing) || strings.Contains(out, "were the weights trained") {
		t.Errorf("missing weights: %v\n%s", err, out)
	}
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)
	os.WriteFile(filepath.Join(run, "run.json"), []byte(`{"options": {"dataset": "cifar10", "batch_size": 50}}`), 0o644)
	out, err = execute("predict", "--run", run, "--threads", "1", img)
	if err == nil || !strings.Contains(out, "holds no weights yet") {
		t.Errorf("run without weights: %v\n%s", err, out)
	}
}

// Weights written by deepnmf train record their dataset: predict and eval
// take it from them when --dataset is not given.
func TestDatasetFromWeights(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "final.safetensors")
	saveMNISTWeights(t, weights, map[string]string{"dataset": "fashion-mnist"})
	path := writePNG(t, filepath.Join(dir, "shoe.png"), image.NewGray(image.Rect(0, 0, 28, 28)))
	out, err := execute("predict", "--weights", weights, "--threads", "1", "--top", "10", path)
	if err != nil || !strings.Contains(out, "Ankle boot") {
		t.Errorf("predict --weights without --dataset: %v, want Fashion-MNIST's classes\n%s", err, out)
	}
	// eval reaches the data (absent here) of the recorded dataset.
	out, err = execute("eval", "--weights", weights, "--data-dir", dir, "--threads", "1")
	if err == nil || !strings.Contains(out, "fashion-mnist") {
		t.Errorf("eval --weights without --dataset: %v, want it to look for fashion-mnist\n%s", err, out)
	}
}
