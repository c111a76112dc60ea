package nn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

func TestParamCounts(t *testing.T) {
	cases := []struct {
		preset  string
		in      Shape
		modules int
		total   int
		groups  [NumGroups]int
	}{
		{"cnn", Shape{3, 28, 28}, 26, 153258, [NumGroups]int{153066, 0, 192, 0}},
		{"cnn_1x1", Shape{3, 28, 28}, 40, 168088, [NumGroups]int{153066, 14638, 384, 0}},
		{"cnmf", Shape{3, 28, 28}, 26, 153056, [NumGroups]int{152864, 0, 192, 0}},
		{"cnmf_1x1", Shape{3, 28, 28}, 40, 167886, [NumGroups]int{152864, 14638, 384, 0}},
		{"cnmf_nnmf1x1", Shape{3, 28, 28}, 40, 167684, [NumGroups]int{152864, 14436, 384, 0}},
		{"cnmf_nnmfpool", Shape{3, 28, 28}, 50, 188558, [NumGroups]int{152864, 14638, 576, 20480}},
		{"cnmf_1x1", Shape{1, 24, 24}, 40, 123278, [NumGroups]int{108256, 14638, 384, 0}},
	}
	for _, c := range cases {
		cfg, err := Preset(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		net, err := Build(cfg, c.in, 2, Options{}, 21)
		if err != nil {
			t.Fatalf("%s: %v", c.preset, err)
		}
		total, groups := net.ParamCount()
		if total != c.total || groups != c.groups || len(net.Layers()) != c.modules {
			t.Errorf("%s on %v: %d layers, total %d, groups %v; want %d, %d, %v", c.preset, c.in, len(net.Layers()), total, groups, c.modules, c.total, c.groups)
		}
		sum := 0
		for _, l := range net.Layers() {
			sum += l.Params
		}
		if sum != total {
			t.Errorf("%s: per-layer parameters sum to %d, total %d", c.preset, sum, total)
		}
		net.Close()
	}
	if got := strings.Join(PresetNames(), " "); got != "cnmf cnmf_1x1 cnmf_nnmf1x1 cnmf_nnmfpool cnn cnn_1x1" {
		t.Errorf("PresetNames() = %s", got)
	}
}

// The embedded presets must stay byte-identical to the spec's files.
func TestPresetsMatchSpec(t *testing.T) {
	dir := filepath.Dir(sharedtest.Path(t, "spec", "configs", "cnmf_1x1.json"))
	for _, name := range PresetNames() {
		want, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := presetFS.ReadFile("presets/" + name + ".json")
		if string(got) != string(want) {
			t.Errorf("preset %s differs from %s", name, filepath.Join(dir, name+".json"))
		}
	}
}

func TestOfficialInit(t *testing.T) {
	cfg, _ := Preset("cnn_1x1")
	net, err := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 21)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	byKey := map[string]*Param{}
	for _, p := range net.Params() {
		byKey[p.Key] = p
	}
	// a-slot conv: U(±1/√fan_in), fan_in = 75.
	w := byKey["4.weight"].Data
	bound := float32(1 / 8.660254)
	lo, hi := w[0], w[0]
	for _, v := range w {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < -bound || hi > bound || hi-lo < 1.9*bound {
		t.Errorf("4.weight range [%g, %g], want about ±%g", lo, hi, bound)
	}
	// b-slot conv: identity + U(±5e-5), bias U(±5e-5).
	w = byKey["8.weight"].Data
	for k := 0; k < 32; k++ {
		for d := 0; d < 32; d++ {
			v := w[k*32+d]
			want := float32(0)
			if k == d {
				want = 1
			}
			if v-want > 5e-5 || want-v > 5e-5 {
				t.Fatalf("8.weight[%d,%d] = %g, want %g ± 5e-5", k, d, v, want)
			}
		}
	}
	for _, v := range byKey["8.bias"].Data {
		if v > 5e-5 || v < -5e-5 {
			t.Fatalf("8.bias value %g outside ±5e-5", v)
		}
	}
	for _, v := range byKey["5.weight"].Data {
		if v != 1 {
			t.Fatal("BatchNorm γ must start at 1")
		}
	}
	for _, v := range byKey["5.bias"].Data {
		if v != 0 {
			t.Fatal("BatchNorm β must start at 0")
		}
	}

	cfg, _ = Preset("cnmf_nnmf1x1")
	net2, err := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 21)
	if err != nil {
		t.Fatal(err)
	}
	defer net2.Close()
	for _, p := range net2.Params() {
		switch p.Key {
		case "4.weight": // a-slot NNMF: U[0,1)
			for _, v := range p.Data {
				if v < 0 || v >= 1 {
					t.Fatalf("4.weight value %g outside [0,1)", v)
				}
			}
		case "8.weight": // b-slot NNMF, n_a ≥ n_b: I + 1e-4
			if p.Data[0] != 1+1e-4 || p.Data[1] != 1e-4 || p.Data[33] != 1+1e-4 {
				t.Fatalf("8.weight starts %v, want identity + 1e-4", p.Data[:3])
			}
		}
	}

	// Same seed, same weights; another seed, other weights.
	a, _ := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 5)
	b, _ := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 5)
	c, _ := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 6)
	defer a.Close()
	defer b.Close()
	defer c.Close()
	if a.Params()[0].Data[7] != b.Params()[0].Data[7] || a.Params()[0].Data[7] == c.Params()[0].Data[7] {
		t.Error("initialisation must depend on the seed only")
	}
}

func TestPositiveConvInit(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	cfg.TypeOfNeuronB = []int{3, 3, 3, 3}
	net, err := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	var keys []string
	for _, p := range net.Params() {
		keys = append(keys, p.Key)
		if strings.HasSuffix(p.Key, "original") {
			for _, v := range p.Data {
				if v < 0 {
					t.Fatalf("%s holds %g; the positive conv starts from |w|", p.Key, v)
				}
			}
		}
	}
	if got := strings.Join(keys[:6], " "); got != "4.weight 5.weight 5.bias 8.bias 8.parametrizations.weight.original 9.weight" {
		t.Errorf("state_dict order %s", got)
	}
}

const testConfig = `{
  // a comment with "quotes" and /* inside
  "iterations": 5, /* block
  comment */ "epsilon": %s,
  "number_of_neurons_a": [4, 3],
  "number_of_neurons_b": [-1, -1],
  "kernel_size_conv": [[3, 3], [-1, -1]],
  "stride_conv": [[1, 1], [1, 1]],
  "padding_conv": [[1, 1], [0, 0]],
  "dilation_conv": [[1, 1], [1, 1]],
  "kernel_size_pool": [[2, 2], [-1, -1]],
  "stride_pool": [[2, 2], [-1, -1]],
  "padding_pool": [[0, 0], [0, 0]],
  "dilation_pool": [[1, 1], [1, 1]],
  "type_of_pooling": [%s, 1],
  "local_learning": [false, false],
  "local_learning_kl": [false, false],
  "local_learning_pooling": [false, false],
  "local_learning_use_kl_pooling": [false, false],
  "type_of_neuron_a": [1, 2],
  "type_of_neuron_b": [%s, 0],
  "batch_norm_neuron_a": [true, true],
  "batch_norm_neuron_b": [true, true],
  "bias_norm_neuron_a": [false, true],
  "bias_norm_neuron_b": [true, true]
}`

func cfgText(eps, pool, typeB string) []byte {
	s := strings.Replace(testConfig, "%s", eps, 1)
	s = strings.Replace(s, "%s", pool, 1)
	s = strings.Replace(s, "%s", typeB, 1)
	return []byte(s)
}

func TestParseConfig(t *testing.T) {
	for _, c := range []struct {
		tok  string
		want float64 // 0 = off
	}{{`"None"`, 0}, {`1`, 0}, {`null`, 0}, {`"0.5"`, 0}, {`1.0`, 1}, {`0.25`, 0.25}, {`1e-1`, 0.1}, {`2E0`, 2}} {
		cfg, err := ParseConfig(cfgText(c.tok, "2", "2"), "test.json")
		if err != nil {
			t.Fatalf("epsilon %s: %v", c.tok, err)
		}
		if (cfg.Epsilon == nil) != (c.want == 0) || (cfg.Epsilon != nil && *cfg.Epsilon != c.want) {
			t.Errorf("epsilon %s: got %v, want %v", c.tok, cfg.Epsilon, c.want)
		}
	}
	cfg, err := ParseConfig(cfgText(`0.5`, "2", "1"), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through the official format keeps everything, epsilon as a float token.
	path := filepath.Join(t.TempDir(), "config.json")
	if err := WriteConfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cfg.MarshalJSON()
	b, _ := back.MarshalJSON()
	if string(a) != string(b) || back.Epsilon == nil || *back.Epsilon != 0.5 {
		t.Errorf("round trip changed the config:\n%s\n%s", a, b)
	}
	one := 1.0
	cfg.Epsilon = &one
	a, _ = cfg.MarshalJSON()
	if !strings.Contains(string(a), `"epsilon": 1.0`) {
		t.Errorf("epsilon 1 must be written as a float token: %s", a)
	}
}

func TestConfigErrors(t *testing.T) {
	good := string(cfgText(`"None"`, "2", "2"))
	cases := []struct {
		text, want string
	}{
		{strings.Replace(good, `"number_of_neurons_b": [-1, -1]`, `"number_of_neurons_b": [-1]`, 1), `"number_of_neurons_b" has 1 entries, want 2`},
		{strings.Replace(good, `"local_learning": [false, false]`, `"local_learning": [false, false, false]`, 1), `"local_learning" has 3 entries`},
		{strings.Replace(good, `"stride_conv": [[1, 1], [1, 1]]`, `"stride_conv": [[1, 1], [1]]`, 1), `"stride_conv" block 1: want 2 entries`},
		{strings.Replace(good, `"type_of_neuron_a": [1, 2]`, `"type_of_neuron_a": [0, 2]`, 1), `"type_of_neuron_a" block 0`},
		{strings.Replace(good, `"type_of_neuron_b": [2, 0]`, `"type_of_neuron_b": [4, 0]`, 1), `"type_of_neuron_b" block 0`},
		{strings.Replace(good, `"type_of_pooling": [2, 1]`, `"type_of_pooling": [5, 1]`, 1), `"type_of_pooling" block 0: 5 is not 0-4`},
		{strings.Replace(good, `"type_of_pooling": [2, 1]`, `"type_of_pooling": [-1, 1]`, 1), `"type_of_pooling" block 0: -1`},
		{strings.Replace(good, `"number_of_neurons_b": [-1, -1]`, `"number_of_neurons_b": [8, -1]`, 1), `number_of_neurons_b ≤ number_of_neurons_a`},
		{strings.Replace(good, `"iterations": 5,`, ``, 1), `"iterations" is missing`},
		{strings.Replace(good, `"iterations": 5,`, `"iterations": 5, "bogus": 1,`, 1), `unknown field "bogus"`},
		{strings.Replace(good, `"epsilon": "None"`, `"epsilon": [1]`, 1), `"epsilon"`},
		{strings.Replace(good, `"stride_conv": [[1, 1], [1, 1]]`, `"stride_conv": [[0, 1], [1, 1]]`, 1), `"stride_conv" block 0: entries must be ≥ 1`},
		{good + "{}", "trailing data"},
		{`{"iterations": 1, /* open`, "unterminated"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.text), "bad.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("want an error naming bad.json and containing %q, got %v", c.want, err)
		}
	}
	// Type 3/4 pooling whose output is 1×1: the always-present BatchNorm would see one value per channel.
	cfg, err := ParseConfig([]byte(strings.Replace(good, `"type_of_pooling": [2, 1]`, `"type_of_pooling": [4, 1]`, 1)), "pool.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg, Shape{1, 2, 2}, 1, Options{}, 1); err == nil || !strings.Contains(err.Error(), "1×1 map") {
		t.Errorf("1×1 NNMF pooling: want a build error, got %v", err)
	}
	if net, err := Build(cfg, Shape{1, 8, 8}, 1, Options{}, 1); err != nil {
		t.Errorf("NNMF pooling on 8×8: %v", err)
	} else {
		net.Close()
	}
	// A kernel larger than the map.
	cfg, _ = ParseConfig([]byte(good), "k.json")
	cfg.KernelSizeConv[0] = []int{9, 9}
	if _, err := Build(cfg, Shape{1, 4, 4}, 1, Options{}, 1); err == nil || !strings.Contains(err.Error(), "block 0") {
		t.Errorf("oversized kernel: want an error naming block 0, got %v", err)
	}
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), "cnmf_1x1") {
		t.Errorf("unknown preset: %v", err)
	}
}

// TestBuildRefusesBadShapesAndOptions: shapes whose element counts overflow
// or exceed the int32 range are errors, not makeslice panics or out-of-memory
// crashes; so is a negative iteration override.
func TestBuildRefusesBadShapesAndOptions(t *testing.T) {
	cfg, err := Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []Shape{{1, 1 << 20, 1 << 20}, {1, 3e9, 3e9}, {1, 4e4, 4e4}} {
		if _, err := Build(cfg, in, 1, Options{}, 1); err == nil || !strings.Contains(err.Error(), "elements") {
			t.Errorf("input %v: want an error about the element count, got %v", in, err)
		}
	}
	if _, err := Build(cfg, Shape{3, 28, 28}, 1, Options{Iterations: -1}, 1); err == nil || !strings.Contains(err.Error(), "-1 NNMF iterations") {
		t.Errorf("-1 iterations: want an error, got %v", err)
	}
	cfg.NumberOfNeuronsA[0] = 1 << 40
	cfg.NumberOfNeuronsB[0] = -1
	if _, err := Build(cfg, Shape{3, 28, 28}, 1, Options{}, 1); err == nil || !strings.Contains(err.Error(), "layer 4 (NNMF2d") {
		t.Errorf("2^40 neurons: want an error naming layer 4, got %v", err)
	}
}

// JSON errors are reported at the line and column of the original file,
// counting the comments the parser strips (block comments spanning lines,
// line comments, multi-byte characters before the error).
func TestConfigErrorLineColumn(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	good, err := cfg.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	body := string(good[1:]) // without the opening brace
	head := "// a line comment, with \"quotes\"\n/* a block\n   comment é\n*/ {  /* ünïcode */ "
	cases := []struct {
		name, src, want string
	}{
		// `x` sits on line 4 after `*/ {  /* ünïcode */ ` (20 characters).
		{"syntax", head + "x" + body, "bad.json:4:21: invalid character 'x'"},
		{"type", head + "\n  \"iterations\": \"20\"," + body, "bad.json:5:20:"},
		{"unknown", head + "\n\n    \"colour\": 1," + body, `bad.json:6:5: json: unknown field "colour"`},
		{"truncated", head + body[:40], fmt.Sprintf("bad.json:%d:%d: unexpected EOF", 4+strings.Count(body[:40], "\n"), 1+len(body[:40])-strings.LastIndex(body[:40], "\n")-1)},
		{"trailing", head + body + " {}", "trailing data"},
		{"string", head + "\"abc", "bad.json:4:21: unterminated string"},
		{"comment", "{\n  /* abc", "bad.json:2:3: unterminated /* comment"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.src), "bad.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error containing %q, got %v", c.name, c.want, err)
		}
	}
	// The same text without the error parses.
	if _, err := ParseConfig([]byte(head+body), "good.json"); err != nil {
		t.Errorf("the commented config is valid: %v", err)
	}
}
