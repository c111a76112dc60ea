package train

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// checkpointedRun trains a tiny run for two epochs and returns its directory.
func checkpointedRun(t *testing.T) (string, Options) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	opts := tinyOptions(2)
	opts.LimitTrain, opts.LimitTest = 60, 40
	if err := runSession(t, context.Background(), opts, dir, false, syntheticCIFAR(t, 60, 40), nil); err != nil {
		t.Fatal(err)
	}
	return dir, opts
}

// A hand-edited or corrupt state.json is refused on resume, naming the file
// and the field, instead of training on with nonsense.
func TestResumeValidatesState(t *testing.T) {
	dir, opts := checkpointedRun(t)
	statePath := filepath.Join(dir, CheckpointDir, StateFile)
	orig := readFile(t, statePath)
	ds := syntheticCIFAR(t, 60, 40)
	resume := func() error {
		s, err := Resume(dir, Overrides{Epochs: 3, Threads: opts.Threads, Data: ds})
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := resume(); err != nil {
		t.Fatalf("the untouched checkpoint: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(st map[string]any)
		field string
	}{
		{"negative lr", func(st map[string]any) { opt(st, 0)["lr"] = -0.01 }, `"optimizers[0].lr"`},
		{"zero lr", func(st map[string]any) { opt(st, 1)["lr"] = 0 }, `"optimizers[1].lr"`},
		{"negative step", func(st map[string]any) { opt(st, 0)["step"] = -3 }, `"optimizers[0].step"`},
		{"NaN best", func(st map[string]any) { opt(st, 0)["scheduler"].(map[string]any)["best"] = "NaN" }, `"optimizers[0].scheduler.best"`},
		{"epoch 1e9", func(st map[string]any) { st["epoch"] = 1e9 }, `"history"`},
		{"negative epoch", func(st map[string]any) { st["epoch"] = -1 }, `"epoch"`},
		{"duplicated row", func(st map[string]any) {
			h := st["history"].([]any)
			st["history"] = []any{h[0], h[0]}
		}, `"history[1].epoch"`},
		{"rows reversed", func(st map[string]any) {
			h := st["history"].([]any)
			st["history"] = []any{h[1], h[0]}
		}, `"history[0].epoch"`},
		{"row missing", func(st map[string]any) { st["history"] = st["history"].([]any)[:1] }, `"history"`},
		{"history lr", func(st map[string]any) {
			st["history"].([]any)[1].(map[string]any)["lrs"].([]any)[0] = -1
		}, `"history[1].lrs[0]"`},
		{"scheduler epoch", func(st map[string]any) { opt(st, 0)["scheduler"].(map[string]any)["last_epoch"] = 7 }, `"optimizers[0].scheduler.last_epoch"`},
	}
	for _, c := range cases {
		var st map[string]any
		if err := json.Unmarshal(orig, &st); err != nil {
			t.Fatal(err)
		}
		c.edit(st)
		js, _ := json.Marshal(st)
		if err := os.WriteFile(statePath, js, 0o644); err != nil {
			t.Fatal(err)
		}
		err := resume()
		if err == nil || !strings.Contains(err.Error(), statePath) || !strings.Contains(err.Error(), "field "+c.field) {
			t.Errorf("%s: want an error naming %s and field %s, got %v", c.name, statePath, c.field, err)
		}
	}
	os.WriteFile(statePath, orig, 0o644)

	// Optimiser moments: non-finite or negative second moments, and the P1
	// reproducer of issue 16, name the file and the tensor.
	optPath := filepath.Join(dir, CheckpointDir, OptimizerFile)
	origOpt := readFile(t, optPath)
	moments, meta, err := nn.ReadSafetensors(optPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		v    float32
		want string
	}{{"4.weight.exp_avg", float32(math.NaN()), "value 3 is NaN"}, {"4.weight.exp_avg_sq", -1, "value 3 is -1"}, {"4.weight.exp_avg_sq", float32(math.Inf(1)), "value 3 is +Inf"}} {
		var ts []nn.NamedTensor
		for k, m := range moments {
			d := append([]float32(nil), m.Data...)
			if k == c.key {
				d[3] = c.v
			}
			ts = append(ts, nn.NamedTensor{Name: k, Shape: m.Shape, Data: d})
		}
		if err := nn.WriteSafetensors(optPath, ts, meta); err != nil {
			t.Fatal(err)
		}
		err := resume()
		if err == nil || !strings.Contains(err.Error(), optPath) || !strings.Contains(err.Error(), `"`+c.key+`"`) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s[3] = %v: want an error naming %s, the tensor and %q, got %v", c.key, c.v, optPath, c.want, err)
		}
	}
	p1, _ := hex.DecodeString(p1Reproducer)
	for _, path := range []string{optPath, filepath.Join(dir, CheckpointDir, ModelFile)} {
		keep := readFile(t, path)
		os.WriteFile(path, p1, 0o644)
		err := resume()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "a"`) {
			t.Errorf("P1 reproducer as %s: got %v", filepath.Base(path), err)
		}
		os.WriteFile(path, keep, 0o644)
	}
	os.WriteFile(optPath, origOpt, 0o644)
	if err := resume(); err != nil {
		t.Fatalf("the restored checkpoint: %v", err)
	}
}

// p1Reproducer is the safetensors file of issue 16 whose shape [2, 2^62]
// overflowed int64 (see nn's test of the same name).
const p1Reproducer = "80000000000000007b2261223a7b226474797065223a22463332222c227368617065223a5b322c343631313638363031383432373338373930345d2c22646174615f6f666673657473223a5b302c305d7d2c2262223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c345d7d7d2000000000"

func opt(st map[string]any, i int) map[string]any {
	return st["optimizers"].([]any)[i].(map[string]any)
}
