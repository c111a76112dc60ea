package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The readers of a run directory's JSON files must return an error, never
// panic, on any input; what they accept must be consistent. Seeds:
// testdata/fuzz/<FuzzName>/ (a real state.json and run.json, hand edits).

func FuzzCheckpointState(f *testing.F) {
	f.Add([]byte(`{"format": 1, "epoch": 0, "streams": {"seed": 1}, "optimizers": [], "history": []}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseState(b, "fuzz")
		if err != nil {
			return
		}
		if len(st.History) != st.Epoch || st.Epoch < 0 {
			t.Fatalf("accepted epoch %d with %d history rows", st.Epoch, len(st.History))
		}
		for i, o := range st.Optimizers {
			if !(o.LR > 0) || math.IsInf(o.LR, 0) || o.Step < 0 {
				t.Fatalf("accepted optimiser %d with lr %v, step %d", i, o.LR, o.Step)
			}
		}
		for i, m := range st.History {
			if m.Epoch != i {
				t.Fatalf("accepted history row %d for epoch %d", i, m.Epoch)
			}
		}
	})
}

func FuzzLoadRunInfo(f *testing.F) {
	f.Add([]byte(`{"options": {"dataset": "cifar10", "batch_size": 50}}`))
	dir := f.TempDir()
	path := filepath.Join(dir, "run.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := LoadRunInfo(dir)
		if err != nil {
			return
		}
		if err := info.Options.Validate(); err != nil {
			t.Fatalf("LoadRunInfo accepted what Validate refuses: %v", err)
		}
		o := info.Options
		if o.BatchSize < 0 || o.Threads < 0 || o.Epochs < 0 || o.LimitTrain < 0 || o.LimitTest < 0 {
			t.Fatalf("accepted negative counts: %+v", o)
		}
	})
}
