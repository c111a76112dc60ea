package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/train"
)

// --precision is one flag, with one description, on train, eval and bench.
func TestPrecisionFlagEverywhere(t *testing.T) {
	root := newRootCmd()
	var usage string
	for _, name := range []string{"train", "eval", "bench"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		f := cmd.Flags().Lookup("precision")
		if f == nil {
			t.Fatalf("%s has no --precision", name)
		}
		if f.DefValue != "float32" || !strings.Contains(f.Usage, "bf16") {
			t.Errorf("%s --precision: default %q, usage %q", name, f.DefValue, f.Usage)
		}
		if usage != "" && f.Usage != usage {
			t.Errorf("%s --precision usage differs: %q vs %q", name, f.Usage, usage)
		}
		usage = f.Usage
	}
	if _, err := execute("bench", "--precision", "fp16", "--steps", "1"); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("bench --precision fp16: %v", err)
	}
}

// bench reports the precision it ran in, and says when bf16 fell back.
func TestBenchPrecision(t *testing.T) {
	start := kernels.ActivePath()
	defer kernels.ForcePath(start)
	paths := []kernels.CPUPath{kernels.PathGeneric}
	if kernels.BF16Supported() {
		paths = append(paths, kernels.PathAVX512)
	}
	for _, p := range paths {
		if _, err := kernels.ForcePath(p); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := runDeepnmf("bench", "--model", "cnmf_1x1", "--batch-size", "2", "--steps", "1", "--warmup", "1",
			"--threads", "1", "--iterations", "2", "--mode", "infer", "--precision", "bf16", "--json")
		if err != nil {
			t.Fatalf("%s: bench: %v\n%s%s", p, err, out, errOut)
		}
		var res train.BenchResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, out)
		}
		want := kernels.EffectivePrecision(kernels.BF16).String()
		if res.Precision != want || res.PrecisionAsked != "bf16" {
			t.Errorf("%s: precision %q (want %q), requested %q", p, res.Precision, want, res.PrecisionAsked)
		}
		if fellBack := want == "float32"; fellBack != strings.Contains(errOut, "runs in float32") {
			t.Errorf("%s: stderr %q (fell back: %v)", p, errOut, fellBack)
		}
	}
}

// A run keeps its precision: --precision cannot change on --resume.
func TestResumeKeepsPrecisionFlag(t *testing.T) {
	_, err := execute("train", "--resume", t.TempDir(), "--precision", "bf16")
	if err == nil || !strings.Contains(err.Error(), "--precision cannot change on --resume") {
		t.Fatalf("train --resume --precision: %v", err)
	}
}
