package main

import (
	"github.com/deepnmf/deepnmf/train"

	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
)

func TestBenchJSON(t *testing.T) {
	out, err := execute("bench", "--model", "cnmf_1x1", "--batch", "2", "--steps", "2", "--warmup", "1",
		"--threads", "1", "--iterations", "3", "--json")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var res train.BenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json printed no JSON object: %v\n%s", err, out)
	}
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantParams, _ := net.ParamCount()
	net.Close()
	if res.Params != wantParams {
		t.Errorf("params = %d, want %d", res.Params, wantParams)
	}
	if res.Model != "cnmf_1x1" || res.Batch != 2 || !slices.Equal(res.Input, []int{3, 28, 28}) || res.Threads != 1 || res.Steps != 2 ||
		res.Warmup != 1 || res.Iterations != 3 || res.Backward != "approx" {
		t.Errorf("settings not echoed: %+v", res)
	}
	if res.CPUPath != kernels.ActivePath().String() || res.GoVersion == "" {
		t.Errorf("cpu_path %q (want %q), go_version %q", res.CPUPath, kernels.ActivePath(), res.GoVersion)
	}
	for name, p := range map[string]*train.BenchPhase{"train": res.Train, "infer": res.Infer} {
		if p == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if !(p.ImagesPerSMin > 0 && p.ImagesPerSMin <= p.ImagesPerSMedian && p.ImagesPerSMedian <= p.ImagesPerSMax) {
			t.Errorf("%s: images/s min %g, median %g, max %g not ordered and positive", name, p.ImagesPerSMin, p.ImagesPerSMedian, p.ImagesPerSMax)
		}
		if p.StepSMedian <= 0 || p.PeakRSSBytes <= 0 || p.AllocsPerStep < 0 {
			t.Errorf("%s: step %g s, peak RSS %d, allocs/step %g", name, p.StepSMedian, p.PeakRSSBytes, p.AllocsPerStep)
		}
		if p.Correct < 0 || p.Correct > 2*2 {
			t.Errorf("%s: %d correct out of 4 images", name, p.Correct)
		}
	}
	for _, key := range []string{`"images_per_s_median"`, `"allocs_per_step"`, `"peak_rss_bytes"`, `"cpu_path"`, `"params"`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestBenchModeAndErrors(t *testing.T) {
	out, err := execute("bench", "--batch", "1", "--steps", "1", "--warmup", "0", "--threads", "1",
		"--iterations", "1", "--mode", "infer", "--json")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var res train.BenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Train != nil || res.Infer == nil {
		t.Errorf("--mode infer: train %v, infer %v", res.Train, res.Infer)
	}
	for _, args := range [][]string{
		{"--mode", "fast"},
		{"--steps", "0"},
		{"--backward", "magic"},
		{"--model", "nope"},
		{"--model", "cnmf", "--config", "x.json"},
	} {
		if out, err := execute(append([]string{"bench", "--batch", "1"}, args...)...); err == nil {
			t.Errorf("bench %v: no error\n%s", args, out)
		}
	}
}

// A list of thread counts times each one; --json then prints an array.
func TestBenchThreadList(t *testing.T) {
	out, err := execute("bench", "--threads", "1,2", "--batch-size", "2", "--steps", "1", "--warmup", "0",
		"--iterations", "2", "--mode", "infer", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rs []train.BenchResult
	if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 2 || rs[0].Threads != 1 || rs[1].Threads != 2 {
		t.Fatalf("bench --threads 1,2 --json: %s (%v)", out, err)
	}
	text, err := execute("bench", "--threads", "1,2", "--batch-size", "2", "--steps", "1", "--warmup", "0",
		"--iterations", "2", "--mode", "infer")
	if err != nil || !strings.Contains(text, "2 threads:  infer") {
		t.Errorf("no scaling table:\n%s (%v)", text, err)
	}
}
