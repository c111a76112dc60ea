package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

var unfoldGeoms = []UnfoldGeom{
	{N: 2, C: 3, H: 28, W: 28, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{N: 3, C: 4, H: 12, W: 12, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{N: 2, C: 5, H: 4, W: 4, KH: 4, KW: 4, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}, // full field
	{N: 2, C: 3, H: 12, W: 12, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
	{N: 1, C: 2, H: 7, W: 9, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadH: 1, PadW: 2, DilH: 1, DilW: 1},
	{N: 2, C: 3, H: 9, W: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 2, PadH: 2, PadW: 1, DilH: 2, DilW: 3},
	{N: 1, C: 1, H: 5, W: 6, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadH: 3, PadW: 4, DilH: 1, DilW: 1}, // rows of pure padding
	{N: 2, C: 2, H: 3, W: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 2, DilW: 2},
	{N: 1, C: 3, H: 6, W: 5, KH: 6, KW: 5, StrideH: 4, StrideW: 4, PadH: 1, PadW: 3, DilH: 1, DilW: 1},
	{N: 0, C: 3, H: 6, W: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}, // empty batch
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

type unfoldPair struct {
	name      string
	unfold    func(UnfoldGeom, []float32, []float32) error
	unfoldRef func(UnfoldGeom, []float32, []float32) error
	fold      func(UnfoldGeom, []float32, []float32) error
	foldRef   func(UnfoldGeom, []float32, []float32) error
}

var unfoldPairs = []unfoldPair{
	{"NCHW", UnfoldNCHW, UnfoldNCHWRef, FoldNCHW, FoldNCHWRef},
	{"Rows", UnfoldRows, UnfoldRowsRef, FoldRows, FoldRowsRef},
}

func TestUnfoldMatchesTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range unfoldPairs {
		for _, g := range unfoldGeoms {
			if err := g.Validate(); err != nil {
				t.Fatalf("%+v: %v", g, err)
			}
			x := randomSlice(rng, g.InputLen())
			got := randomSlice(rng, g.Rows()*g.Cols()) // stale contents must be overwritten
			want := make([]float32, len(got))
			if err := p.unfold(g, x, got); err != nil {
				t.Fatal(err)
			}
			if err := p.unfoldRef(g, x, want); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("Unfold%s %+v: element %d = %g, twin %g", p.name, g, i, got[i], want[i])
				}
			}

			cols := randomSlice(rng, g.Rows()*g.Cols())
			x0 := randomSlice(rng, g.InputLen())
			gotX := append([]float32(nil), x0...)
			wantX := append([]float32(nil), x0...)
			if err := p.fold(g, cols, gotX); err != nil {
				t.Fatal(err)
			}
			if err := p.foldRef(g, cols, wantX); err != nil {
				t.Fatal(err)
			}
			for i := range wantX {
				if gotX[i] != wantX[i] {
					t.Fatalf("Fold%s %+v: element %d = %g, twin %g", p.name, g, i, gotX[i], wantX[i])
				}
			}
		}
	}
}

// TestFoldIsAdjoint checks ⟨unfold(x), y⟩ = ⟨x, fold(y)⟩ in float64.
func TestFoldIsAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, p := range unfoldPairs {
		for _, g := range unfoldGeoms {
			x := randomSlice(rng, g.InputLen())
			y := randomSlice(rng, g.Rows()*g.Cols())
			ux := make([]float32, len(y))
			fy := make([]float32, len(x))
			if err := p.unfold(g, x, ux); err != nil {
				t.Fatal(err)
			}
			if err := p.fold(g, y, fy); err != nil {
				t.Fatal(err)
			}
			var lhs, rhs, scale float64
			for i := range y {
				lhs += float64(ux[i]) * float64(y[i])
				scale += math.Abs(float64(ux[i]) * float64(y[i]))
			}
			for i := range x {
				rhs += float64(x[i]) * float64(fy[i])
			}
			if math.Abs(lhs-rhs) > 1e-6*(scale+1) {
				t.Fatalf("%s %+v: <unfold x, y> = %g, <x, fold y> = %g", p.name, g, lhs, rhs)
			}
		}
	}
}

func TestUnfoldRejectsBadInput(t *testing.T) {
	good := unfoldGeoms[4]
	bad := []UnfoldGeom{
		{N: 1, C: 1, H: 4, W: 4, KH: 0, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		{N: 1, C: 1, H: 4, W: 4, KH: 5, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		{N: 1, C: 1, H: 4, W: 4, KH: 1, KW: 1, StrideH: 0, StrideW: 1, DilH: 1, DilW: 1},
		{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 1, StrideW: 1, DilH: 4, DilW: 1},
		{N: 1, C: 1, H: 4, W: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadH: -1, DilH: 1, DilW: 1},
		{N: 1, C: 0, H: 4, W: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	}
	for _, p := range unfoldPairs {
		for _, g := range bad {
			big := make([]float32, 1000)
			if err := p.unfold(g, big, big); err == nil {
				t.Errorf("Unfold%s accepted %+v", p.name, g)
			}
			if err := p.fold(g, big, big); err == nil {
				t.Errorf("Fold%s accepted %+v", p.name, g)
			}
		}
		x := make([]float32, good.InputLen())
		cols := make([]float32, good.Rows()*good.Cols())
		if err := p.unfold(good, x[1:], cols); err == nil {
			t.Errorf("Unfold%s accepted a short input", p.name)
		}
		if err := p.unfold(good, x, cols[1:]); err == nil {
			t.Errorf("Unfold%s accepted a short output", p.name)
		}
		if err := p.fold(good, cols[1:], x); err == nil {
			t.Errorf("Fold%s accepted a short matrix", p.name)
		}
	}
}

// TestUnfoldGolden replays the three Unfold layers of the paper model on the
// activations PyTorch recorded: act/0 → act/1 (NCHW input), act/11 → act/12
// and act/22 → act/23 (channels-last, the last one a full-field 4×4 kernel).
// PyTorch stores unfold output as [B, C·kh·kw, L]; ours is its transpose per
// sample.
func TestUnfoldGolden(t *testing.T) {
	tensors := sharedtest.Tensors(t, "net_cnmf_1x1_perturbed.json")
	cases := []struct {
		in, out      string
		channelsLast bool
	}{
		{"act/0", "act/1", false},
		{"act/11", "act/12", true},
		{"act/22", "act/23", true},
	}
	for _, c := range cases {
		in, out := tensors[c.in], tensors[c.out]
		if len(in.Shape) != 4 || len(out.Shape) != 3 {
			t.Fatalf("%s/%s: unexpected shapes %v, %v", c.in, c.out, in.Shape, out.Shape)
		}
		n, ch, h, w := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
		k := int(math.Round(math.Sqrt(float64(out.Shape[1] / ch))))
		g := UnfoldGeom{N: n, C: ch, H: h, W: w, KH: k, KW: k, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
		if g.Cols() != out.Shape[1] || g.OutH()*g.OutW() != out.Shape[2] {
			t.Fatalf("%s: geometry %+v does not give %v", c.out, g, out.Shape)
		}
		x := in.Data
		unfold := UnfoldNCHW
		if c.channelsLast {
			x = make([]float32, len(in.Data))
			for s := 0; s < n; s++ {
				for ci := 0; ci < ch; ci++ {
					for p := 0; p < h*w; p++ {
						x[(s*h*w+p)*ch+ci] = in.Data[(s*ch+ci)*h*w+p]
					}
				}
			}
			unfold = UnfoldRows
		}
		got := make([]float32, g.Rows()*g.Cols())
		if err := unfold(g, x, got); err != nil {
			t.Fatal(err)
		}
		positions := out.Shape[2]
		for s := 0; s < n; s++ {
			for col := 0; col < g.Cols(); col++ {
				for l := 0; l < positions; l++ {
					want := out.Data[(s*g.Cols()+col)*positions+l]
					if v := got[(s*positions+l)*g.Cols()+col]; v != want {
						t.Fatalf("%s: sample %d column %d position %d = %g, PyTorch %g", c.out, s, col, l, v, want)
					}
				}
			}
		}
	}
}

func TestUnfoldDoesNotAllocate(t *testing.T) {
	g := unfoldGeoms[5]
	x := make([]float32, g.InputLen())
	cols := make([]float32, g.Rows()*g.Cols())
	for _, p := range unfoldPairs {
		run := func() {
			if err := p.unfold(g, x, cols); err != nil {
				t.Fatal(err)
			}
			if err := p.fold(g, cols, x); err != nil {
				t.Fatal(err)
			}
		}
		if allocs := testing.AllocsPerRun(3, run); allocs != 0 {
			t.Errorf("%s: %v allocations per unfold+fold", p.name, allocs)
		}
	}
}
