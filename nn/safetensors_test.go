package nn

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.safetensors")
	in := []NamedTensor{
		{Name: "b", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-30, -7}},
		{Name: "a", Shape: []int{1}, Data: []float32{42}},
		{Name: "s", Shape: []int{}, Data: []float32{3}},
	}
	if err := WriteSafetensors(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if hl := binary.LittleEndian.Uint64(raw); (8+hl)%8 != 0 {
		t.Errorf("header length %d leaves the data unaligned", hl)
	}
	out, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(out) != 3 {
		t.Fatalf("metadata %v, %d tensors", meta, len(out))
	}
	for _, w := range in {
		g := out[w.Name]
		if !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("%s: shape %v, want %v", w.Name, g.Shape, w.Shape)
		}
		for i := range w.Data {
			if g.Data[i] != w.Data[i] {
				t.Fatalf("%s[%d] = %g, want %g", w.Name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

// writeRaw writes a safetensors file from a literal header and n data bytes.
func writeRaw(t *testing.T, header string, data int, hlen int64) string {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	buf := make([]byte, 8+len(header)+data)
	if hlen < 0 {
		hlen = int64(len(header))
	}
	binary.LittleEndian.PutUint64(buf, uint64(hlen))
	copy(buf[8:], header)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSafetensorsDefects(t *testing.T) {
	cases := []struct {
		header string
		data   int
		hlen   int64
		want   string
	}{
		{`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8, 1 << 40, "header length"},
		{`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`, 8, -1, "not a JSON object"},
		{`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4, -1, `"w" has dtype "F16"`},
		{`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}`, 8, -1, `"w": data_offsets [0, 16] outside`},
		{`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8, -1, `"w": data_offsets span 8 bytes`},
		{`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, -1, `"w" starts at byte 4`},
		{`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8, -1, "4 trailing bytes"},
		{`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4, -1, "negative dimension"},
		{`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4, -1, "2 entries"},
		{`{"__metadata__":{"a":1}}`, 0, -1, "__metadata__"},
	}
	for _, c := range cases {
		path := writeRaw(t, c.header, c.data, c.hlen)
		_, _, err := ReadSafetensors(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("header %s: want an error naming the file and containing %q, got %v", c.header, c.want, err)
		}
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte{1, 2}, 0o644)
	if _, _, err := ReadSafetensors(short); err == nil {
		t.Error("a 2-byte file must be rejected")
	}
}

func TestWeightsSaveLoad(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	cfg.TypeOfNeuronB = []int{2, 3, 2, 3}
	a, err := Build(cfg, Shape{1, 24, 24}, 2, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := Build(cfg, Shape{1, 24, 24}, 2, Options{}, 2)
	defer b.Close()
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := a.SaveWeights(path, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := b.LoadWeights(path); err != nil {
		t.Fatal(err)
	}
	_, meta, err := ReadSafetensors(path)
	if err != nil || meta["k"] != "v" || meta["format"] != "pt" {
		t.Errorf("metadata %v, %v", meta, err)
	}
	stored, err := ConfigFromWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := cfg.MarshalJSON()
	y, _ := stored.MarshalJSON()
	if string(x) != string(y) {
		t.Errorf("config stored with the weights differs:\n%s\n%s", x, y)
	}
	for i, p := range a.Params() {
		q := b.Params()[i]
		for j := range p.Data {
			if p.Data[j] != q.Data[j] {
				t.Fatalf("%s[%d] differs after save/load", p.Key, j)
			}
		}
	}

	// Strictness: a missing key, a wrong shape and an unknown key are all named.
	var ts []NamedTensor
	for _, p := range a.Params() {
		switch p.Key {
		case "4.weight":
			continue
		case "5.weight":
			ts = append(ts, NamedTensor{Name: p.Key, Shape: []int{2, 16}, Data: p.Data})
		default:
			ts = append(ts, NamedTensor{Name: p.Key, Shape: p.Shape, Data: p.Data})
		}
	}
	ts = append(ts, NamedTensor{Name: "99.weight", Shape: []int{1}, Data: []float32{0}})
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := WriteSafetensors(bad, ts, nil); err != nil {
		t.Fatal(err)
	}
	before := b.Params()[1].Data[0]
	err = b.LoadWeights(bad)
	for _, want := range []string{bad, `"4.weight"`, `"5.weight" has shape [2 16]`, `"99.weight"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q, got %v", want, err)
		}
	}
	if b.Params()[1].Data[0] != before {
		t.Error("a failed load must not change the weights")
	}
}

// Weights written by the official PyTorch code load under the official keys.
func TestLoadPyTorchWeights(t *testing.T) {
	dir := filepath.Dir(sharedtest.Path(t, "golden", "torch_cnmf_1x1", "model.safetensors"))
	cfg, err := LoadConfig(filepath.Join(dir, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	net, err := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.LoadWeights(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	_, meta, err := ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil || meta["format"] != "pt" {
		t.Errorf("metadata %v, %v", meta, err)
	}
}
