package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// TestRobustnessLevelZeroIsEval: level 0 of every noise is the clean test
// pass, so it must give exactly what deepnmf eval gives for the same weights.
func TestRobustnessLevelZeroIsEval(t *testing.T) {
	dir := filepath.Dir(sharedtest.Path(t, "golden", "torch_cnmf_1x1", "model.safetensors"))
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "cifar10"))
	weights, config := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "network.json")
	const limit = "50"
	out, _, err := runDeepnmf("eval", "--weights", weights, "--config", config, "--dataset", "cifar10", "--data-dir", dataDir, "--limit", limit, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev evalResult
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	out, _, err = runDeepnmf("robustness", "--weights", weights, "--config", config, "--data-dir", dataDir, "--limit-test", limit,
		"--noise", "holes-noise", "--out", outDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res robustnessOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 21 || len(res.Files) != 4 || res.LimitTest != 50 {
		t.Fatalf("%d rows, files %v", len(res.Rows), res.Files)
	}
	r0 := res.Rows[0]
	if r0.Eta != 0 || r0.Correct != ev.Correct || r0.N != ev.N || r0.Accuracy != ev.TestAccuracy {
		t.Fatalf("level 0 %+v, eval %+v", r0, ev)
	}
	// At η = 1 the image is pure filler noise: about chance, far below clean.
	if last := res.Rows[20]; last.Eta != 1 || last.Accuracy > 30 || r0.Accuracy < 40 {
		t.Fatalf("η=1: %+v (clean %v)", last, r0.Accuracy)
	}
}

func TestRobustnessRejects(t *testing.T) {
	for _, args := range [][]string{
		{"robustness", "--out", t.TempDir()},
		{"robustness", "--run", "a", "--weights", "b", "--out", t.TempDir()},
		{"robustness", "--weights", "b"},
		{"robustness", "--weights", "b", "--noise", "gauss", "--out", t.TempDir()},
		{"robustness", "--run", "a", "--config", "cnn", "--out", t.TempDir()},
	} {
		if _, err := execute(args...); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
}
