package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/nn"
)

// The weights PyTorch trained for one epoch give PyTorch's test accuracy
// (5411/10000: batch 50, file order, CenterCrop 28, BatchNorm batch statistics).
func TestEvalPyTorchWeights(t *testing.T) {
	dir := filepath.Dir(sharedtest.Path(t, "golden", "torch_cnmf_1x1", "model.safetensors"))
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "cifar10"))
	var want struct {
		TestAccuracy float64 `json:"test_accuracy"`
		N            int     `json:"n"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "accuracy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	out, err := execute("eval", "--weights", filepath.Join(dir, "model.safetensors"), "--config", filepath.Join(dir, "network.json"),
		"--dataset", "cifar10", "--data-dir", dataDir, "--threads", "2", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got evalResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.N != want.N || math.Abs(got.TestAccuracy-want.TestAccuracy) > 0.05 {
		t.Errorf("accuracy %.2f %% on %d images, PyTorch %.2f %% on %d", got.TestAccuracy, got.N, want.TestAccuracy, want.N)
	}
}

func TestEvalErrors(t *testing.T) {
	if _, err := execute("eval"); err == nil {
		t.Error("eval without weights must fail")
	}
	if _, err := execute("eval", "--weights", "x.safetensors"); err == nil {
		t.Error("eval without a config must fail")
	}
	for _, bad := range [][]string{{"--threads", "0"}, {"--batch-size", "0"}, {"--limit", "-1"}} {
		if _, err := execute(append([]string{"eval", "--weights", "x.safetensors", "--config", "cnmf_1x1"}, bad...)...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("eval %v: %v", bad, err)
		}
	}
	for _, bad := range [][]string{{"--top", "0"}, {"--threads", "0"}} {
		if _, err := execute(append([]string{"predict", "--weights", "x.safetensors", "--config", "cnmf_1x1", "x.png"}, bad...)...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("predict %v: %v", bad, err)
		}
	}
	out, err := execute("eval", "--help")
	if err != nil || !strings.Contains(out, "--weights") || !strings.Contains(out, "--run") {
		t.Errorf("eval --help: %v\n%s", err, out)
	}
}

func TestInspect(t *testing.T) {
	out, err := execute("inspect", "--model", "cnmf_nnmfpool", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res inspectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.TotalParameters != 188558 || res.ParameterGroups["neuron pool"] != 20480 || res.ParameterGroups["batchnorm2d"] != 576 || len(res.Layers) != 50 {
		t.Errorf("cnmf_nnmfpool: total %d, groups %v, %d layers", res.TotalParameters, res.ParameterGroups, len(res.Layers))
	}
	if l := res.Layers[11]; l.Type != "Unfold" || len(l.OutputShape) != 2 || l.OutputShape[0] != 128 || l.OutputShape[1] != 144 {
		t.Errorf("layer 11: %+v", l)
	}
	out, err = execute("inspect", "--model", "cnmf_1x1", "--dataset", "mnist")
	if err != nil || !strings.Contains(out, "123,278") || !strings.Contains(out, "1×24×24") {
		t.Errorf("inspect cnmf_1x1 on mnist: %v\n%s", err, out)
	}
	out, err = execute("inspect", "--model", "cnn", "--input", "3,28,28")
	if err != nil || !strings.Contains(out, "153,258") {
		t.Errorf("inspect cnn: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"inspect"},
		{"inspect", "--model", "nope"},
		{"inspect", "--model", "cnn", "--input", "3,28"},
		{"inspect", "--model", "cnmf_1x1", "--input", "1,1000000,1000000"},
		{"inspect", "--model", "cnn", "--config", "x.json"},
	} {
		if _, err := execute(args...); err == nil {
			t.Errorf("%v must fail", args)
		}
	}
}

// --run finds the weights (final, else the checkpoint), the config and the
// dataset in a run directory; weights saved by deepnmf need no --config.
func TestEvalRunDir(t *testing.T) {
	src := filepath.Dir(sharedtest.Path(t, "golden", "torch_cnmf_1x1", "model.safetensors"))
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "cifar10"))
	run := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(src, "model.safetensors"), filepath.Join(run, "checkpoint", "model.safetensors"))
	copyFile(filepath.Join(src, "network.json"), filepath.Join(run, "config.json"))
	if err := os.WriteFile(filepath.Join(run, "run.json"), []byte(`{"options": {"dataset": "cifar10"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	evalJSON := func(args ...string) evalResult {
		t.Helper()
		out, err := execute(append([]string{"eval", "--data-dir", dataDir, "--limit", "100", "--json"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		var res evalResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return res
	}
	fromRun := evalJSON("--run", run)
	direct := evalJSON("--weights", filepath.Join(src, "model.safetensors"), "--config", filepath.Join(src, "network.json"))
	if fromRun.N != 100 || fromRun.Correct != direct.Correct || fromRun.Dataset != "cifar10" {
		t.Errorf("--run: %+v, direct: %+v", fromRun, direct)
	}

	// Weights written by deepnmf carry their config.
	cfg, err := nn.LoadConfig(filepath.Join(src, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.LoadWeights(filepath.Join(src, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(run, "final.safetensors")
	if err := net.SaveWeights(final, nil); err != nil {
		t.Fatal(err)
	}
	if own := evalJSON("--weights", final); own.Correct != direct.Correct {
		t.Errorf("deepnmf-saved weights: %d correct, PyTorch file %d", own.Correct, direct.Correct)
	}
	if again := evalJSON("--run", run); again.Weights != final {
		t.Errorf("--run must prefer final.safetensors, used %s", again.Weights)
	}

	// A run trained with running statistics is evaluated with them: these
	// weights have none, so the run's choice shows as a missing key.
	if err := os.WriteFile(filepath.Join(run, "run.json"), []byte(`{"options": {"dataset": "cifar10", "running_stats": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("eval", "--data-dir", dataDir, "--limit", "50", "--run", run); err == nil || !strings.Contains(err.Error(), "running_mean") {
		t.Errorf("--run of a running-stats run: want a missing running_mean, got %v\n%s", err, out)
	}
	if out, err := execute("eval", "--data-dir", dataDir, "--limit", "50", "--run", filepath.Join(run, "nonexistent")); err == nil || !strings.Contains(err.Error(), "run directory") {
		t.Errorf("--run of a missing directory: %v\n%s", err, out)
	}
}
