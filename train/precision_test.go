package train

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
)

func TestOptionsPrecisionJSON(t *testing.T) {
	o := DefaultOptions()
	if o.Precision != kernels.Float32 {
		t.Fatalf("default precision %s", o.Precision)
	}
	o.Precision = kernels.BF16
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"precision":"bf16"`) {
		t.Errorf("%s lacks the precision", raw)
	}
	var back Options
	if err := json.Unmarshal(raw, &back); err != nil || back.Precision != kernels.BF16 {
		t.Fatalf("round trip: %v, %v", back.Precision, err)
	}
	// A run.json written before the precision existed reads as float32.
	old := `{"model":"cnmf_1x1","dataset":"mnist","epochs":3,"seed":1,"backward":"approx","threads":2,"batch_size":50}`
	var fresh Options
	if err := json.Unmarshal([]byte(old), &fresh); err != nil || fresh.Precision != kernels.Float32 {
		t.Fatalf("earlier run.json: precision %v, %v", fresh.Precision, err)
	}
	if err := json.Unmarshal([]byte(`{"precision":"fp16"}`), &back); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("unknown precision: %v", err)
	}
	bad := DefaultOptions()
	bad.Precision = 7
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("Validate(precision 7) = %v", err)
	}
}

// A bf16 run records its precision in run.json, builds its network in bf16
// (or says why not) and keeps the precision on resume.
func TestRunKeepsPrecision(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	opts := tinyOptions(1)
	opts.Data = ds
	opts.Precision = kernels.BF16
	s, err := Start(opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	notice := strings.Join(s.Notices, "\n")
	if got, want := s.Net.EffectivePrecision(), kernels.EffectivePrecision(kernels.BF16); got != want {
		t.Errorf("network precision %s, want %s", got, want)
	}
	if (kernels.EffectivePrecision(kernels.BF16) == kernels.Float32) != strings.Contains(notice, "float32") {
		t.Errorf("notices %q do not match the fallback (effective %s)", notice, kernels.EffectivePrecision(kernels.BF16))
	}
	trainQuiet(t, s)
	s.Close()
	info, err := LoadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Options.Precision != kernels.BF16 {
		t.Errorf("run.json precision %s", info.Options.Precision)
	}
	s, err = Resume(dir, Overrides{Data: ds, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Opts.Precision != kernels.BF16 {
		t.Errorf("resumed precision %s", s.Opts.Precision)
	}
}

func TestPrecisionNotice(t *testing.T) {
	start := kernels.ActivePath()
	defer kernels.ForcePath(start)
	if n := PrecisionNotice(kernels.Float32); n != "" {
		t.Errorf("float32 notice %q", n)
	}
	if _, err := kernels.ForcePath(kernels.PathGeneric); err != nil {
		t.Fatal(err)
	}
	if n := PrecisionNotice(kernels.BF16); !strings.Contains(n, "float32") {
		t.Errorf("fallback notice %q", n)
	}
}
