package nn

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
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
		{`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 16, -1, `"w": data_offsets span 8 bytes`},
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

// p1Reproducer is the 140-byte file of issue 16 (P1): tensor "a" has shape
// [2, 2^62], whose element count overflows int64 to a multiple of 2^64 that
// looked like 0 bytes and made ReadSafetensors panic in makeslice.
const p1Reproducer = "80000000000000007b2261223a7b226474797065223a22463332222c227368617065223a5b322c343631313638363031383432373338373930345d2c22646174615f6f666673657473223a5b302c305d7d2c2262223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c345d7d7d2000000000"

func writeHex(t *testing.T, h string) string {
	t.Helper()
	raw, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p1.safetensors")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every path that reads a weights file reports P1 as an error naming the
// file and the tensor, not a panic.
func TestSafetensorsShapeOverflow(t *testing.T) {
	path := writeHex(t, p1Reproducer)
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "a"`) ||
			!strings.Contains(err.Error(), "4611686018427387904") {
			t.Errorf("%s: want an error naming %s, tensor \"a\" and its shape, got %v", what, path, err)
		}
	}
	_, _, err := ReadSafetensors(path)
	check("ReadSafetensors", err)
	_, err = ConfigFromWeights(path)
	check("ConfigFromWeights", err)
	cfg, _ := Preset("cnmf_1x1")
	net, err := Build(cfg, Shape{1, 24, 24}, 1, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	check("LoadWeights", net.LoadWeights(path))

	// Products that stay below 2^63 but exceed the data section, and shapes
	// whose second factor alone would overflow after the first.
	for _, shape := range []string{"[3037000500,3037000500]", "[4,4611686018427387904]", "[0,9223372036854775807]"} {
		header := `{"w":{"dtype":"F32","shape":` + shape + `,"data_offsets":[0,4]}}`
		p := writeRaw(t, header, 4, -1)
		_, _, err := ReadSafetensors(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("shape %s: want an error naming the file and tensor, got %v", shape, err)
		}
	}
}

// Entries that overlap are refused before their values are copied: a
// header of many entries each spanning the whole data section must not make
// the reader allocate that section once per entry.
func TestSafetensorsOverlapRefusedBeforeCopy(t *testing.T) {
	const n, size = 64, 1 << 18 // 64 entries of 1 MiB each over a 1 MiB section
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"t%02d":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}`, i, size, 4*size)
	}
	b.WriteString("}")
	path := writeRaw(t, b.String(), 4*size, -1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := ReadSafetensors(path)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("want an overlap error, got %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8*4*size {
		t.Errorf("reading allocated %d bytes for a %d-byte data section", got, 4*size)
	}
}

// A weights file with a NaN or an infinity is refused at load, naming the
// file and the tensor, and leaves the network unchanged.
func TestLoadWeightsRejectsNonFinite(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	net, err := Build(cfg, Shape{1, 24, 24}, 1, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		var ts []NamedTensor
		for _, p := range net.Params() {
			d := slices.Clone(p.Data)
			if p.Key == "5.weight" {
				d[7] = bad
			}
			ts = append(ts, NamedTensor{Name: p.Key, Shape: p.Shape, Data: d})
		}
		path := filepath.Join(t.TempDir(), "nan.safetensors")
		if err := WriteSafetensors(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		before := slices.Clone(net.Params()[1].Data)
		err := net.LoadWeights(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"5.weight"`) || !strings.Contains(err.Error(), "value 7") {
			t.Errorf("%v: want an error naming %s, tensor \"5.weight\" and value 7, got %v", bad, path, err)
		}
		if !slices.Equal(net.Params()[1].Data, before) {
			t.Errorf("%v: a refused load changed the weights", bad)
		}
	}
}
