package kernels

import "fmt"

// UnfoldGeom is the geometry of a 2-D patch extraction (im2col) in PyTorch's
// torch.nn.Unfold semantics: zero padding, stride and dilation per axis.
//
// The unfolded matrix has Rows() = N·Ho·Wo rows in (n, ho, wo) order and
// Cols() = C·KH·KW columns; column c·KH·KW + i·KW + j holds input channel c at
// kernel row i, kernel column j (PyTorch's patch ordering), i.e. row
// (n, ho, wo) reads input position (ho·StrideH − PadH + i·DilH,
// wo·StrideW − PadW + j·DilW), or zero where that falls in the padding.
//
// A "full-field" kernel is KH = H, KW = W; resolving the config's −1 is the
// network builder's job. Because every layout stores one sample contiguously
// and rows are in sample order, a caller can process a sub-range of samples
// by passing N = its count and the matching sub-slices.
type UnfoldGeom struct {
	N, C, H, W       int // input batch, channels, height, width
	KH, KW           int // kernel size
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
}

// OutH is the number of patch positions along the height.
func (g UnfoldGeom) OutH() int { return (g.H+2*g.PadH-g.DilH*(g.KH-1)-1)/g.StrideH + 1 }

// OutW is the number of patch positions along the width.
func (g UnfoldGeom) OutW() int { return (g.W+2*g.PadW-g.DilW*(g.KW-1)-1)/g.StrideW + 1 }

// Rows is the number of rows of the unfolded matrix, N·OutH·OutW.
func (g UnfoldGeom) Rows() int { return g.N * g.OutH() * g.OutW() }

// Cols is the number of columns of the unfolded matrix, C·KH·KW.
func (g UnfoldGeom) Cols() int { return g.C * g.KH * g.KW }

// InputLen is the number of elements of the input (N·C·H·W in either layout).
func (g UnfoldGeom) InputLen() int { return g.N * g.C * g.H * g.W }

// Validate reports a geometry that has no patches or a non-positive field.
func (g UnfoldGeom) Validate() error {
	switch {
	case g.N < 0 || g.C < 1 || g.H < 1 || g.W < 1:
		return fmt.Errorf("unfold: input shape N=%d C=%d H=%d W=%d must have N ≥ 0 and C, H, W ≥ 1", g.N, g.C, g.H, g.W)
	case g.KH < 1 || g.KW < 1:
		return fmt.Errorf("unfold: kernel %d×%d must be at least 1×1 (resolve full-field −1 to the map size first)", g.KH, g.KW)
	case g.StrideH < 1 || g.StrideW < 1:
		return fmt.Errorf("unfold: stride %d×%d must be at least 1", g.StrideH, g.StrideW)
	case g.DilH < 1 || g.DilW < 1:
		return fmt.Errorf("unfold: dilation %d×%d must be at least 1", g.DilH, g.DilW)
	case g.PadH < 0 || g.PadW < 0:
		return fmt.Errorf("unfold: padding %d×%d must not be negative", g.PadH, g.PadW)
	}
	if eh, ew := g.DilH*(g.KH-1)+1, g.DilW*(g.KW-1)+1; eh > g.H+2*g.PadH || ew > g.W+2*g.PadW {
		return fmt.Errorf("unfold: dilated kernel %d×%d exceeds the padded %d×%d input", eh, ew, g.H+2*g.PadH, g.W+2*g.PadW)
	}
	return nil
}

func (g UnfoldGeom) checkLens(op string, input, cols int) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if input < g.InputLen() {
		return fmt.Errorf("%s: input has %d elements, geometry needs %d", op, input, g.InputLen())
	}
	if cols < g.Rows()*g.Cols() {
		return fmt.Errorf("%s: unfolded matrix has %d elements, geometry needs %d×%d", op, cols, g.Rows(), g.Cols())
	}
	return nil
}

// validSpan returns the kernel offsets [lo, hi) along one axis whose input
// coordinate start + t·dil lies inside [0, size).
func validSpan(start, dil, kernel, size int) (lo, hi int) {
	lo, hi = 0, kernel
	if start < 0 {
		lo = (-start + dil - 1) / dil
	}
	if last := start + (kernel-1)*dil; last >= size {
		hi = kernel - ((last-size)/dil + 1)
	}
	lo = min(lo, kernel)
	return lo, max(lo, hi)
}

// patch is one row of the unfolded matrix: the sample n it reads, the input
// coordinates (h0, w0) of its kernel origin (negative inside the padding), and
// the kernel offsets [ilo, ihi) × [jlo, jhi) that fall inside the input.
type patch struct {
	row, n         int
	h0, w0         int
	ilo, ihi       int
	jlo, jhi       int
	touchesPadding bool // some kernel offsets read padding (zeros)
}

// forEachPatch calls fn for every row of the unfolded matrix in row order.
// It is the one walk over patch positions that the four unfold/fold
// functions share; they differ only in how they move a patch's values.
func (g UnfoldGeom) forEachPatch(fn func(p patch)) {
	ho, wo := g.OutH(), g.OutW()
	var p patch
	for n := 0; n < g.N; n++ {
		for oh := 0; oh < ho; oh++ {
			h0 := oh*g.StrideH - g.PadH
			ilo, ihi := validSpan(h0, g.DilH, g.KH, g.H)
			for ow := 0; ow < wo; ow++ {
				w0 := ow*g.StrideW - g.PadW
				jlo, jhi := validSpan(w0, g.DilW, g.KW, g.W)
				p = patch{n: n, row: p.row, h0: h0, w0: w0, ilo: ilo, ihi: ihi, jlo: jlo, jhi: jhi,
					touchesPadding: ilo > 0 || ihi < g.KH || jlo > 0 || jhi < g.KW}
				if jlo == jhi {
					p.ihi = ilo // the patch lies wholly in the padding columns
				}
				fn(p)
				p.row++
			}
		}
	}
}

// UnfoldNCHW writes the unfolded matrix of x (N×C×H×W, the network input
// layout) into out (Rows()×Cols(), row-major), overwriting it.
func UnfoldNCHW(g UnfoldGeom, x, out []float32) error {
	if err := g.checkLens("kernels.UnfoldNCHW", len(x), len(out)); err != nil {
		return err
	}
	cols, kk, plane := g.Cols(), g.KH*g.KW, g.H*g.W
	g.forEachPatch(func(p patch) {
		dst := out[p.row*cols : (p.row+1)*cols]
		if p.touchesPadding {
			clear(dst)
		}
		xn := x[p.n*g.C*plane : (p.n+1)*g.C*plane]
		for c := 0; c < g.C; c++ {
			xc := xn[c*plane : (c+1)*plane]
			dc := dst[c*kk : (c+1)*kk]
			for i := p.ilo; i < p.ihi; i++ {
				xr := xc[(p.h0+i*g.DilH)*g.W:]
				dr := dc[i*g.KW : (i+1)*g.KW]
				if g.DilW == 1 {
					// An explicit loop: the runs are a kernel row long
					// (5 here), too short for copy's call to pay.
					d, s := dr[p.jlo:p.jhi], xr[p.w0+p.jlo:p.w0+p.jhi]
					for j := range d {
						d[j] = s[j]
					}
					continue
				}
				for j := p.jlo; j < p.jhi; j++ {
					dr[j] = xr[p.w0+j*g.DilW]
				}
			}
		}
	})
	return nil
}

// FoldNCHW is the adjoint of UnfoldNCHW: it adds every entry of cols
// (Rows()×Cols()) into the input position it was read from, accumulating into
// x (N×C×H×W). Padding entries are dropped. The caller clears x first if it
// wants the plain adjoint.
func FoldNCHW(g UnfoldGeom, cols, x []float32) error {
	if err := g.checkLens("kernels.FoldNCHW", len(x), len(cols)); err != nil {
		return err
	}
	nc, kk, plane := g.Cols(), g.KH*g.KW, g.H*g.W
	g.forEachPatch(func(p patch) {
		src := cols[p.row*nc : (p.row+1)*nc]
		xn := x[p.n*g.C*plane : (p.n+1)*g.C*plane]
		for c := 0; c < g.C; c++ {
			xc := xn[c*plane : (c+1)*plane]
			sc := src[c*kk : (c+1)*kk]
			for i := p.ilo; i < p.ihi; i++ {
				xr := xc[(p.h0+i*g.DilH)*g.W:]
				sr := sc[i*g.KW : (i+1)*g.KW]
				for j := p.jlo; j < p.jhi; j++ {
					xr[p.w0+j*g.DilW] += sr[j]
				}
			}
		}
	})
	return nil
}

// UnfoldRows writes the unfolded matrix of x, stored channels-last as
// (N·H·W)×C rows in (n, h, w) order (the layout of every layer after the
// input), into out (Rows()×Cols()), overwriting it.
func UnfoldRows(g UnfoldGeom, x, out []float32) error {
	if err := g.checkLens("kernels.UnfoldRows", len(x), len(out)); err != nil {
		return err
	}
	cols, kk, sample := g.Cols(), g.KH*g.KW, g.H*g.W*g.C
	g.forEachPatch(func(p patch) {
		dst := out[p.row*cols : (p.row+1)*cols]
		if p.touchesPadding {
			clear(dst)
		}
		xn := x[p.n*sample : (p.n+1)*sample]
		for i := p.ilo; i < p.ihi; i++ {
			h := p.h0 + i*g.DilH
			for j := p.jlo; j < p.jhi; j++ {
				pos := (h*g.W + p.w0 + j*g.DilW) * g.C
				src := xn[pos : pos+g.C]
				// Channel c goes to column c·kk + i·KW + j: a stride-kk scatter
				// inside one row, which stays in L1.
				d := dst[i*g.KW+j:]
				for c, v := range src {
					d[c*kk] = v
				}
			}
		}
	})
	return nil
}

// FoldRows is the adjoint of UnfoldRows: it adds every entry of cols
// (Rows()×Cols()) into x, stored channels-last as (N·H·W)×C, at the position
// it was read from. Padding entries are dropped; x is accumulated into.
func FoldRows(g UnfoldGeom, cols, x []float32) error {
	if err := g.checkLens("kernels.FoldRows", len(x), len(cols)); err != nil {
		return err
	}
	nc, kk, sample := g.Cols(), g.KH*g.KW, g.H*g.W*g.C
	g.forEachPatch(func(p patch) {
		src := cols[p.row*nc : (p.row+1)*nc]
		xn := x[p.n*sample : (p.n+1)*sample]
		for i := p.ilo; i < p.ihi; i++ {
			h := p.h0 + i*g.DilH
			for j := p.jlo; j < p.jhi; j++ {
				pos := (h*g.W + p.w0 + j*g.DilW) * g.C
				dst := xn[pos : pos+g.C]
				s := src[i*g.KW+j:]
				for c := range dst {
					dst[c] += s[c*kk]
				}
			}
		}
	})
	return nil
}
