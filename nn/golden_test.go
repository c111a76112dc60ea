package nn

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

type goldenNet struct {
	Meta struct {
		Config     json.RawMessage `json:"config"`
		InputShape []int           `json:"input_shape"`
		Layers     []struct {
			Index       int    `json:"index"`
			Type        string `json:"type"`
			OutputShape []int  `json:"output_shape"`
		} `json:"layers"`
		TotalParameters int               `json:"total_parameters"`
		ParameterGroups map[string]string `json:"parameter_groups"`
		Checks          struct {
			MaxGradNorm float64 `json:"max_grad_norm"`
			Zero        struct {
				Keys []string `json:"keys"`
			} `json:"zero_in_exact_arithmetic_grads"`
		} `json:"checks"`
	} `json:"meta"`
	Tensors map[string]sharedtest.Tensor `json:"tensors"`
}

// loadGoldenNet reads ../shared/golden/<name>.
func loadGoldenNet(t testing.TB, name string) *goldenNet {
	var g goldenNet
	sharedtest.ReadJSON(t, &g, "golden", name)
	return &g
}

// diffNorms returns ‖a−b‖ and ‖b‖ in float64.
func diffNorms(a, b []float32) (diff, ref float64) {
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		diff += d * d
		ref += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(diff), math.Sqrt(ref)
}

// officialLoss is the official loss mode 0 (spec §3.2) and its gradient with
// respect to the probabilities, in float64.
func officialLoss(p []float32, labels []int, classes int) (float64, []float32) {
	grad := make([]float32, len(p))
	var mse, kl float64
	for b, lab := range labels {
		for c := 0; c < classes; c++ {
			pv := float64(p[b*classes+c])
			y := 0.0
			if c == lab {
				y = 1
			}
			mse += (pv - y) * (pv - y)
			g := 0.5 * 2 * (pv - y) / float64(classes)
			if y != 0 {
				kl += y * math.Log((y+1e-20)/(pv+1e-20))
				g += -y / (pv + 1e-20) / float64(classes)
			}
			grad[b*classes+c] = float32(g / 1.5)
		}
	}
	return (0.5*mse/float64(classes) + kl/float64(classes)) / 1.5, grad
}

// rowsToNCHW transposes a channels-last rows × C activation of batch samples
// with hw positions each to NCHW.
func rowsToNCHW(y []float32, batch, c, hw int) []float32 {
	out := make([]float32, batch*c*hw)
	for n := 0; n < batch; n++ {
		for p := 0; p < hw; p++ {
			for ch := 0; ch < c; ch++ {
				out[(n*c+ch)*hw+p] = y[(n*hw+p)*c+ch]
			}
		}
	}
	return out
}

func TestGoldenNetworks(t *testing.T) {
	dir := filepath.Dir(sharedtest.Path(t, "golden", "net_cnmf_1x1.json"))
	files, err := filepath.Glob(filepath.Join(dir, "net_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d golden network files in %s, want the 10 listed in its README", len(files), dir)
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		g := loadGoldenNet(t, filepath.Base(f))
		for _, threads := range []int{1, 2} {
			t.Run(name+"/threads="+strconv.Itoa(threads), func(t *testing.T) {
				checkGoldenNet(t, g, threads)
			})
		}
	}
}

func checkGoldenNet(t *testing.T, g *goldenNet, threads int) {
	cfg, err := ParseConfig(g.Meta.Config, "golden meta.config")
	if err != nil {
		t.Fatal(err)
	}
	is := g.Meta.InputShape
	batch := is[0]
	net, err := Build(cfg, Shape{is[1], is[2], is[3]}, batch+1, Options{Threads: threads}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()

	// Layer table and parameter bookkeeping.
	layers := net.Layers()
	if len(layers) != len(g.Meta.Layers) {
		t.Fatalf("%d layers, golden has %d", len(layers), len(g.Meta.Layers))
	}
	for i, gl := range g.Meta.Layers {
		l := layers[i]
		want := gl.OutputShape[1:]
		var got []int
		switch l.Type {
		case "Unfold":
			got = []int{l.Out.C, l.Out.H * l.Out.W}
		case "Flatten":
			got = []int{l.Out.C}
		default:
			got = []int{l.Out.C, l.Out.H, l.Out.W}
		}
		if l.Index != gl.Index || l.Type != gl.Type || !slices.Equal(got, want) {
			t.Errorf("layer %d: got %d %s %v, golden %d %s %v", i, l.Index, l.Type, got, gl.Index, gl.Type, want)
		}
	}
	total, _ := net.ParamCount()
	if total != g.Meta.TotalParameters {
		t.Errorf("total parameters %d, golden %d", total, g.Meta.TotalParameters)
	}
	nParams := 0
	for k := range g.Tensors {
		if strings.HasPrefix(k, "param/") {
			nParams++
		}
	}
	if nParams != len(net.Params()) {
		t.Errorf("%d parameters, golden has %d", len(net.Params()), nParams)
	}
	for _, p := range net.Params() {
		gt, ok := g.Tensors["param/"+p.Key]
		if !ok {
			t.Fatalf("parameter %s not in the golden file", p.Key)
		}
		if !slices.Equal(gt.Shape, p.Shape) {
			t.Fatalf("parameter %s: shape %v, golden %v", p.Key, p.Shape, gt.Shape)
		}
		if g.Meta.ParameterGroups[p.Key] != p.Group.String() {
			t.Errorf("parameter %s: group %q, golden %q", p.Key, p.Group, g.Meta.ParameterGroups[p.Key])
		}
		copy(p.Data, gt.Data)
	}

	in := g.Tensors["input"]
	out, err := net.Forward(in.Data, batch)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, a, b []float32, abs float64) {
		t.Helper()
		if len(a) != len(b) {
			t.Errorf("%s: %d values, golden %d", what, len(a), len(b))
			return
		}
		diff, ref := diffNorms(a, b)
		if os.Getenv("NN_GOLDEN_VERBOSE") != "" {
			t.Logf("%s: rel %.3g", what, diff/ref)
		}
		if !(diff <= 1e-4*ref+abs) {
			t.Errorf("%s: ‖a−b‖ = %.3g, ‖b‖ = %.3g, rel %.3g", what, diff, ref, diff/ref)
		}
	}
	check("output", out, g.Tensors["output"].Data, 0)

	if _, ok := g.Tensors["act/0"]; ok {
		for i, l := range net.layers {
			b := l.base()
			want := g.Tensors["act/"+strconv.Itoa(i)]
			got := b.y[:batch*b.out.size()]
			if !b.nchw {
				got = rowsToNCHW(got, batch, b.out.C, b.out.H*b.out.W)
			}
			check("act/"+strconv.Itoa(i)+" "+b.info.Type, got, want.Data, 0)
		}
	}

	labels := make([]int, batch)
	for i, v := range g.Tensors["labels"].Data {
		labels[i] = int(v)
	}
	loss, grad := officialLoss(out, labels, net.Classes())
	check("loss", []float32{float32(loss)}, g.Tensors["loss"].Data, 0)
	if err := net.Backward(grad); err != nil {
		t.Fatal(err)
	}
	zero := map[string]bool{}
	for _, k := range g.Meta.Checks.Zero.Keys {
		zero[k] = true
	}
	G := g.Meta.Checks.MaxGradNorm
	if G <= 0 {
		t.Fatal("golden meta.checks.max_grad_norm missing")
	}
	for _, p := range net.Params() {
		want := g.Tensors["grad/"+p.Key].Data
		if zero[p.Key] {
			diff, _ := diffNorms(p.Grad, want)
			if diff > 1e-6*G {
				t.Errorf("grad %s (zero in exact arithmetic): ‖a−b‖ = %.3g > 1e-6·G = %.3g", p.Key, diff, 1e-6*G)
			}
			continue
		}
		check("grad "+p.Key, p.Grad, want, 0)
	}
}
