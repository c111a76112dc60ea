package experiment

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
)

// PlotCurves writes curves.png/.svg into dir: test accuracy, training loss
// per image and the learning rates (log scale) against the epoch, one line
// per run (per run and optimiser group for the learning rates).
func PlotCurves(runs []*Run, dir string) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	var acc, loss, lrs []Series
	for _, r := range runs {
		a, l := Series{Name: r.Label}, Series{Name: r.Label}
		lr := make([]Series, len(r.LRNames))
		for i, g := range r.LRNames {
			lr[i].Name = r.Label + " " + g
		}
		for _, e := range r.Epochs {
			x := float64(e.Epoch)
			a.X, a.Y = append(a.X, x), append(a.Y, e.TestAcc)
			l.X, l.Y = append(l.X, x), append(l.Y, e.TrainLoss)
			for i := range lr {
				if i < len(e.LRs) {
					lr[i].X, lr[i].Y = append(lr[i].X, x), append(lr[i].Y, e.LRs[i])
				}
			}
		}
		acc, loss, lrs = append(acc, a), append(loss, l), append(lrs, lr...)
	}
	pAcc := lineChart("test accuracy", "epoch", "test accuracy (%)", acc, false)
	pAcc.Legend.Top = false
	pAcc.Legend.Left = false
	grid := [][]*plot.Plot{{
		pAcc,
		lineChart("training loss", "epoch", "loss per image", loss, false),
		lineChart("learning rates", "epoch", "learning rate", lrs, true),
	}}
	return saveFigure(grid, 36*vg.Centimeter, 11*vg.Centimeter, dir, "curves")
}

// Dictionary is the first NNMF layer of a network whose input is the image:
// its normalised weight W (K rows of D = C·KH·KW, PyTorch's Unfold column
// order), and what its forward needs.
type Dictionary struct {
	Layer        int // index in the official Sequential
	K, C, KH, KW int
	W            []float32 // normalised (spec §1.2)
	Iterations   int
	Epsilon      *float64
}

// FirstDictionary finds the network's first NNMF layer and reads its
// dictionary. It must factorise image patches: its input is the first
// Unfold of the network, on the image itself (1 or 3 channels).
func FirstDictionary(net *nn.Network) (*Dictionary, error) {
	layers := net.Layers()
	unfold := -1
	for i, l := range layers {
		switch l.Type {
		case "Unfold":
			if unfold < 0 {
				unfold = i
			}
		case "NNMF2d":
			if unfold < 0 {
				return nil, fmt.Errorf("the first NNMF layer (%d) does not factorise image patches", l.Index)
			}
			in := net.Input()
			if unfold > 0 {
				in = layers[unfold-1].Out
			}
			d := layers[unfold].Out.C
			if in.C != 1 && in.C != 3 || d%in.C != 0 {
				return nil, fmt.Errorf("the first NNMF layer (%d) factorises %d-channel patches, not image patches", l.Index, in.C)
			}
			k := int(math.Round(math.Sqrt(float64(d / in.C))))
			if k*k*in.C != d {
				return nil, fmt.Errorf("the first NNMF layer (%d): patches of %d values are not square %d-channel patches", l.Index, d, in.C)
			}
			key := fmt.Sprintf("%d.weight", l.Index)
			for _, p := range net.Params() {
				if p.Key != key {
					continue
				}
				if len(p.Data)%d != 0 {
					return nil, fmt.Errorf("NNMF weight %s has %d values, not rows of %d", key, len(p.Data), d)
				}
				cfg := net.Config()
				dict := &Dictionary{Layer: l.Index, K: len(p.Data) / d, C: in.C, KH: k, KW: k,
					W: make([]float32, len(p.Data)), Iterations: cfg.Iterations, Epsilon: cfg.Epsilon}
				nnmf.NormalizeWeights(p.Data, dict.W, dict.K, d)
				return dict, nil
			}
			return nil, fmt.Errorf("no parameter %s for the NNMF layer %d", key, l.Index)
		}
	}
	return nil, fmt.Errorf("the network has no NNMF layer (a CNN has no dictionary to show)")
}

// D is the patch length C·KH·KW.
func (d *Dictionary) D() int { return d.C * d.KH * d.KW }

// Reconstruct factorises n patches (rows of D values, non-negative) as the
// network's first NNMF module does (L1 normalisation with the 1e-19 guard,
// then T multiplicative updates) and returns the normalised patches and
// their reconstructions h·W.
func (d *Dictionary) Reconstruct(patches []float32, n int) (normalised, recon []float32, err error) {
	D := d.D()
	if len(patches) < n*D {
		return nil, nil, fmt.Errorf("reconstruct: %d values for %d patches of %d", len(patches), n, D)
	}
	cfg := nnmf.Config{Name: fmt.Sprintf("layer %d", d.Layer), In: D, Out: d.K, Iterations: d.Iterations}
	if d.Epsilon != nil {
		cfg.UseEpsilon, cfg.Epsilon = true, float32(*d.Epsilon)
	}
	l, err := nnmf.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	c := GradCase{Rows: n, D: D, X: append([]float32(nil), patches[:n*D]...)}
	c.normalizeRows()
	h := make([]float32, n*d.K)
	if err := l.Forward(l.NewWorkspace(n), c.X, n, d.W, h, false); err != nil {
		return nil, nil, err
	}
	recon = make([]float32, n*D)
	for r := 0; r < n; r++ {
		for k := 0; k < d.K; k++ {
			hk := h[r*d.K+k]
			for j := 0; j < D; j++ {
				recon[r*D+j] += hk * d.W[k*D+j]
			}
		}
	}
	return c.X, recon, nil
}

// CenterPatches cuts the KH×KW patch at the centre of each of n images
// (NCHW, C×h×w each) in Unfold column order.
func (d *Dictionary) CenterPatches(images []float32, n, h, w int) ([]float32, error) {
	if h < d.KH || w < d.KW || len(images) < n*d.C*h*w {
		return nil, fmt.Errorf("patches: %d values for %d images of %d×%d×%d with %d×%d patches", len(images), n, d.C, h, w, d.KH, d.KW)
	}
	y0, x0 := (h-d.KH)/2, (w-d.KW)/2
	out := make([]float32, 0, n*d.D())
	for i := 0; i < n; i++ {
		img := images[i*d.C*h*w:]
		for c := 0; c < d.C; c++ {
			for y := 0; y < d.KH; y++ {
				for x := 0; x < d.KW; x++ {
					out = append(out, img[c*h*w+(y0+y)*w+x0+x])
				}
			}
		}
	}
	return out, nil
}

// tileGrid composes patches (rows of C·KH·KW values, Unfold order) into an
// image: cols tiles per row, each pixel scale×scale, gap pixels between
// tiles. Each tile is divided by its own scale[i] (display normalisation).
func tileGrid(patches []float32, n, c, kh, kw, cols, scale, gap int, div []float32) *image.RGBA {
	rows := (n + cols - 1) / cols
	tw, th := kw*scale, kh*scale
	img := image.NewRGBA(image.Rect(0, 0, cols*tw+(cols+1)*gap, rows*th+(rows+1)*gap))
	for i := range img.Pix {
		img.Pix[i] = 255 // white background and gaps
	}
	d := c * kh * kw
	level := func(v, m float32) uint8 {
		if m <= 0 {
			return 0
		}
		return uint8(math.Round(float64(min(max(v/m, 0), 1)) * 255))
	}
	for t := 0; t < n; t++ {
		p := patches[t*d : (t+1)*d]
		ox, oy := gap+(t%cols)*(tw+gap), gap+(t/cols)*(th+gap)
		for y := 0; y < kh; y++ {
			for x := 0; x < kw; x++ {
				var col color.RGBA
				if c == 3 {
					col = color.RGBA{level(p[y*kw+x], div[t]), level(p[kh*kw+y*kw+x], div[t]), level(p[2*kh*kw+y*kw+x], div[t]), 255}
				} else {
					g := level(p[y*kw+x], div[t])
					col = color.RGBA{g, g, g, 255}
				}
				for sy := 0; sy < scale; sy++ {
					for sx := 0; sx < scale; sx++ {
						img.SetRGBA(ox+x*scale+sx, oy+y*scale+sy, col)
					}
				}
			}
		}
	}
	return img
}

func maxOf(s []float32) float32 {
	m := float32(0)
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// imagePlot shows a composed image in a plot without axes, so that it is
// saved as PNG and SVG like the other figures.
func imagePlot(title string, img image.Image) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	b := img.Bounds()
	p.Add(plotter.NewImage(img, 0, 0, float64(b.Dx()), float64(b.Dy())))
	p.HideAxes()
	return p
}

// PlotDictionary writes dictionary.png/.svg: every row of W as a KH×KW patch
// (colour for 3 channels), each divided by its own maximum for display.
func PlotDictionary(d *Dictionary, dir string) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	D := d.D()
	div := make([]float32, d.K)
	for k := range div {
		div[k] = maxOf(d.W[k*D : (k+1)*D])
	}
	cols := 8
	img := tileGrid(d.W, d.K, d.C, d.KH, d.KW, cols, 12, 4, div)
	title := fmt.Sprintf("first NNMF layer (%d): %d atoms of %d×%d×%d, each scaled to its maximum", d.Layer, d.K, d.C, d.KH, d.KW)
	b := img.Bounds()
	w := vg.Length(b.Dx())*vg.Points(1.2) + 2*vg.Centimeter
	return saveFigure([][]*plot.Plot{{imagePlot(title, img)}}, max(w, 18*vg.Centimeter), vg.Length(b.Dy())*vg.Points(1.2)+2.5*vg.Centimeter, dir, "dictionary")
}

// PlotReconstructions writes reconstructions.png/.svg: n input patches (top
// row, L1-normalised as the layer sees them) above their reconstructions h·W
// (bottom row), each pair divided by the input's maximum so that their
// brightness compares.
func PlotReconstructions(d *Dictionary, patches []float32, n int, dir string) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	in, recon, err := d.Reconstruct(patches, n)
	if err != nil {
		return nil, err
	}
	D := d.D()
	both := append(append([]float32(nil), in...), recon...)
	div := make([]float32, 2*n)
	var errSum, norm float64
	for i := 0; i < n; i++ {
		div[i] = maxOf(in[i*D : (i+1)*D])
		div[n+i] = div[i]
		for j := i * D; j < (i+1)*D; j++ {
			errSum += math.Abs(float64(in[j] - recon[j]))
			norm += math.Abs(float64(in[j]))
		}
	}
	img := tileGrid(both, 2*n, d.C, d.KH, d.KW, n, 12, 4, div)
	title := fmt.Sprintf("centre patches (top) and their reconstructions h·W (bottom), T=%d; relative L1 error %.3f", d.Iterations, errSum/norm)
	b := img.Bounds()
	return saveFigure([][]*plot.Plot{{imagePlot(title, img)}}, max(vg.Length(b.Dx())*vg.Points(1.2)+2*vg.Centimeter, 20*vg.Centimeter), vg.Length(b.Dy())*vg.Points(1.2)+2.5*vg.Centimeter, dir, "reconstructions")
}
