package nn

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The readers of foreign bytes must return an error, never panic, and never
// allocate more than their input justifies. Seeds: f.Add below and
// testdata/fuzz/<FuzzName>/.

func FuzzReadSafetensors(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteSafetensors(good, []NamedTensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "b", Shape: []int{}, Data: []float32{7}},
		{Name: "e", Shape: []int{0, 5}},
	}, map[string]string{"format": "pt", MetaConfig: "{}"}); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	p1, _ := hex.DecodeString(p1Reproducer)
	f.Add(p1)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tensors, _, err := readSafetensors("fuzz", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		values := 0
		for name, ts := range tensors {
			n, err := elementCount(ts.Shape, int64(len(b)))
			if err != nil || int(n) != len(ts.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", name, ts.Shape, len(ts.Data))
			}
			values += len(ts.Data)
		}
		if 4*values > len(b) {
			t.Fatalf("%d values from a %d-byte file", values, len(b))
		}
		_ = CheckFinite("fuzz", tensors)
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range PresetNames() {
		raw, err := presetFS.ReadFile("presets/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("// comment\n{ /* block */ \"iterations\": 1 }"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b, "fuzz")
		if err != nil {
			return
		}
		// What is accepted round-trips.
		js, err := cfg.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(js, "round trip"); err != nil {
			t.Fatalf("an accepted config does not parse back: %v\n%s", err, js)
		}
		// Planning and estimating never panic; what fits a small budget builds.
		for _, in := range []Shape{{3, 28, 28}, {1, 24, 24}} {
			opt := Options{Threads: 2, MaxMemory: 4 << 20}
			est, err := EstimateMemory(cfg, in, 2, opt)
			if err != nil {
				continue
			}
			net, err := Build(cfg, in, 2, opt, 1)
			if err != nil {
				if est.Total() <= float64(opt.MaxMemory) {
					t.Fatalf("estimate %.0f within the budget, but Build failed: %v", est.Total(), err)
				}
				continue
			}
			net.Close()
		}
	})
}
