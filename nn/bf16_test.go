package nn

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/kernels"
)

// goldenNetBF16Tol bounds the relative deviation of a bf16 network's output
// (the class probabilities) from the float32 golden file. The NNMF layers'
// own bf16 deviation is ~0.2 % (nnmf.TestGoldenBF16); stacked layers and
// the BatchNorms between them may amplify it, and 5 % still leaves every
// probability recognisably the same; the measured figures are logged (-v)
// and reported in docs/BENCHMARKS.md.
const goldenNetBF16Tol = 0.05

// TestGoldenNetworksBF16 runs every golden network with bf16 NNMF forwards
// and logs the deviation of the output, the loss and the largest gradient
// deviation from the float32 golden values.
func TestGoldenNetworksBF16(t *testing.T) {
	if !kernels.BF16Active() {
		t.Skipf("bf16 runs float32 here: %s", kernels.BF16Unavailable())
	}
	dir := filepath.Dir(sharedtest.Path(t, "golden", "net_cnmf_1x1.json"))
	files, err := filepath.Glob(filepath.Join(dir, "net_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		g := loadGoldenNet(t, filepath.Base(f))
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig(g.Meta.Config, "golden meta.config")
			if err != nil {
				t.Fatal(err)
			}
			is := g.Meta.InputShape
			batch := is[0]
			net, err := Build(cfg, Shape{is[1], is[2], is[3]}, batch, Options{Threads: 2, Precision: kernels.BF16}, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			if net.EffectivePrecision() != kernels.BF16 {
				t.Fatalf("network precision %s", net.EffectivePrecision())
			}
			for _, p := range net.Params() {
				copy(p.Data, g.Tensors["param/"+p.Key].Data)
			}
			out, err := net.Forward(g.Tensors["input"].Data, batch)
			if err != nil {
				t.Fatal(err)
			}
			diff, ref := diffNorms(out, g.Tensors["output"].Data)
			labels := make([]int, batch)
			for i, v := range g.Tensors["labels"].Data {
				labels[i] = int(v)
			}
			loss, grad := officialLoss(out, labels, net.Classes())
			lossRel := (loss - float64(g.Tensors["loss"].Data[0])) / float64(g.Tensors["loss"].Data[0])
			if err := net.Backward(grad); err != nil {
				t.Fatal(err)
			}
			zero := map[string]bool{}
			for _, k := range g.Meta.Checks.Zero.Keys {
				zero[k] = true // zero in exact arithmetic: a relative error means nothing
			}
			var worst, worstW float64
			var worstKey, worstWKey string
			for _, p := range net.Params() {
				if zero[p.Key] {
					continue
				}
				gd, gr := diffNorms(p.Grad, g.Tensors["grad/"+p.Key].Data)
				if gr > 0 && gd/gr > worst {
					worst, worstKey = gd/gr, p.Key
				}
				if gr > 0 && strings.HasSuffix(p.Key, "weight") && gd/gr > worstW {
					worstW, worstWKey = gd/gr, p.Key
				}
			}
			t.Logf("bf16 %s: output rel %.3g, loss rel %+.3g, worst grad rel %.3g (%s), worst weight grad rel %.3g (%s)",
				name, diff/ref, lossRel, worst, worstKey, worstW, worstWKey)
			if !(diff <= goldenNetBF16Tol*ref) {
				t.Errorf("output: relative deviation %.3g > %g", diff/ref, goldenNetBF16Tol)
			}
		})
	}
}
