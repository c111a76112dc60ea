package kernels

// The naive twins of the unfold kernels, written straight from the definition
// in UnfoldGeom, one element at a time. They are the tests' oracle.

// unfoldSource returns the input (n, c, h, w) that column col of unfolded row
// row reads, and false where it reads the zero padding.
func (g UnfoldGeom) unfoldSource(row, col int) (n, c, h, w int, ok bool) {
	ho, wo := g.OutH(), g.OutW()
	n, oh, ow := row/(ho*wo), row/wo%ho, row%wo
	c, i, j := col/(g.KH*g.KW), col/g.KW%g.KH, col%g.KW
	h = oh*g.StrideH - g.PadH + i*g.DilH
	w = ow*g.StrideW - g.PadW + j*g.DilW
	return n, c, h, w, h >= 0 && h < g.H && w >= 0 && w < g.W
}

// UnfoldNCHWRef is the naive twin of UnfoldNCHW.
func UnfoldNCHWRef(g UnfoldGeom, x, out []float32) error {
	if err := g.checkLens("kernels.UnfoldNCHWRef", len(x), len(out)); err != nil {
		return err
	}
	for row := 0; row < g.Rows(); row++ {
		for col := 0; col < g.Cols(); col++ {
			var v float32
			if n, c, h, w, ok := g.unfoldSource(row, col); ok {
				v = x[((n*g.C+c)*g.H+h)*g.W+w]
			}
			out[row*g.Cols()+col] = v
		}
	}
	return nil
}

// FoldNCHWRef is the naive twin of FoldNCHW.
func FoldNCHWRef(g UnfoldGeom, cols, x []float32) error {
	if err := g.checkLens("kernels.FoldNCHWRef", len(x), len(cols)); err != nil {
		return err
	}
	for row := 0; row < g.Rows(); row++ {
		for col := 0; col < g.Cols(); col++ {
			if n, c, h, w, ok := g.unfoldSource(row, col); ok {
				x[((n*g.C+c)*g.H+h)*g.W+w] += cols[row*g.Cols()+col]
			}
		}
	}
	return nil
}

// UnfoldRowsRef is the naive twin of UnfoldRows.
func UnfoldRowsRef(g UnfoldGeom, x, out []float32) error {
	if err := g.checkLens("kernels.UnfoldRowsRef", len(x), len(out)); err != nil {
		return err
	}
	for row := 0; row < g.Rows(); row++ {
		for col := 0; col < g.Cols(); col++ {
			var v float32
			if n, c, h, w, ok := g.unfoldSource(row, col); ok {
				v = x[((n*g.H+h)*g.W+w)*g.C+c]
			}
			out[row*g.Cols()+col] = v
		}
	}
	return nil
}

// FoldRowsRef is the naive twin of FoldRows.
func FoldRowsRef(g UnfoldGeom, cols, x []float32) error {
	if err := g.checkLens("kernels.FoldRowsRef", len(x), len(cols)); err != nil {
		return err
	}
	for row := 0; row < g.Rows(); row++ {
		for col := 0; col < g.Cols(); col++ {
			if n, c, h, w, ok := g.unfoldSource(row, col); ok {
				x[((n*g.H+h)*g.W+w)*g.C+c] += cols[row*g.Cols()+col]
			}
		}
	}
	return nil
}
