package nnmf

import (
	"github.com/deepnmf/deepnmf/kernels"
)

// Workspace is the scratch memory of one shard: the packed weights of the
// fused kernel, what Forward keeps for Backward, and Backward's buffers. It is
// sized once for at most maxRows rows per call, so the steady state allocates
// nothing. A Workspace must not be shared by concurrent calls.
type Workspace struct {
	maxRows int
	packed  []float32 // kernels.NNMFPack layout of the last Forward's W
	scratch []float32 // kernels.NNMFIterate tile buffers

	// The bf16 forward's buffers, allocated for a layer configured for bf16
	// (even where it falls back to float32, so that the choice can follow
	// the active path): kernels.NNMFPackBF16 layout and tile buffers.
	packedBF16  []uint32
	scratchBF16 []float32
	bf16        bool // the last Forward packed and iterates in bf16

	// What the last Forward kept for Backward.
	rows     int       // rows of the last Forward
	gradRows int       // rows whose iterates are in hist (-1: none kept)
	hist     []float32 // Unrolled: h⁰…h^{T−1} (T × rows × K); LastIter*: h^{T−1}

	// Backward buffers, for one block of at most block rows.
	block   int
	bufD    [3][]float32 // block × D each; bufD[0] 2·block × D
	bufK    [5][]float32 // block × K each; bufK[0] 2·block × K
	fused   []float32    // Approx: the fused kernel's tile scratch (kernels.NNMFApproxScratchLen)
	acc     []float32    // Approx: its padded ∂L/∂W accumulator (kernels.NNMFApproxAccLen)
	kd      []float32    // K × D (implicit: W scaled by c)
	c       []float32    // D (implicit: F/R of one row)
	kk      []float32    // K × K (implicit: W·diag(c)·Wᵀ)
	a, lu   []float64    // K × K: (I − J)ᵀ of one row and its factors
	nk, rhs []float64    // K: N(f(h)) and the right-hand side / solution
	tmp     []float64    // K
	piv     []int
}

// WorkspaceBytes is the memory NewWorkspace(maxRows) allocates, computed
// without allocating (in float64, so that absurd sizes cannot overflow), so
// that a caller can check a network's memory before building it.
func (l *Layer) WorkspaceBytes(maxRows int) float64 {
	maxRows = max(maxRows, 1)
	k, d := float64(l.Out), float64(l.In)
	kp, dp := float64((l.Out+15)&^15), float64((l.In+15)&^15)
	floats := k*dp + d*kp + kernels.NNMFTileRows*(2*dp+kp) // packed, scratch
	if l.Precision == kernels.BF16 {
		floats += float64((l.Out+1)/2)*dp + float64((l.In+1)/2)*kp + kernels.NNMFTileRows*(dp+kp+(dp+kp)/2)
	}
	switch l.method {
	case Unrolled:
		floats += float64(l.Iterations) * float64(maxRows) * k
	case LastIter, LastIterSqrtT:
		floats += float64(maxRows) * k
	}
	block := float64(min(maxRows, max(16, blockFloats/max(l.In, 1))))
	floats += 4*block*d + 6*block*k // bufD (3, the first doubled), bufK (5, the first doubled)
	if l.fusedApprox() {
		floats += float64(kernels.NNMFApproxScratchLen(l.Out, l.In) + kernels.NNMFApproxAccLen(l.Out, l.In))
	}
	bytes := 4 * floats
	if l.method == Implicit {
		bytes += 4*(k*d+d+k*k) + 8*(2*k*k+3*k) + 8*k // kd, c, kk; a, lu, nk, rhs, tmp; piv
	}
	return bytes
}

// NewWorkspace allocates the scratch memory for calls of at most maxRows rows.
func (l *Layer) NewWorkspace(maxRows int) *Workspace {
	maxRows = max(maxRows, 1)
	k, d := l.Out, l.In
	ws := &Workspace{
		maxRows:  maxRows,
		packed:   make([]float32, kernels.NNMFPackedLen(k, d)),
		scratch:  make([]float32, kernels.NNMFScratchLen(k, d)),
		gradRows: -1,
	}
	if l.Precision == kernels.BF16 {
		ws.packedBF16 = make([]uint32, kernels.NNMFPackedLenBF16(k, d))
		ws.scratchBF16 = make([]float32, kernels.NNMFScratchLenBF16(k, d))
	}
	switch l.method {
	case Unrolled:
		ws.hist = make([]float32, l.Iterations*maxRows*k)
	case LastIter, LastIterSqrtT:
		ws.hist = make([]float32, maxRows*k)
	}
	// The backward works on blocks of rows whose D-wide intermediates
	// (~512 KB each) stay in cache instead of streaming rows × D arrays
	// through memory, while its GEMMs stay large enough to run near peak.
	ws.block = min(maxRows, max(16, blockFloats/d))
	ws.bufD[0] = make([]float32, 2*ws.block*d)
	for i := 1; i < len(ws.bufD); i++ {
		ws.bufD[i] = make([]float32, ws.block*d)
	}
	ws.bufK[0] = make([]float32, 2*ws.block*k)
	for i := 1; i < len(ws.bufK); i++ {
		ws.bufK[i] = make([]float32, ws.block*k)
	}
	if l.fusedApprox() {
		// One allocation: the two small buffers would each be rounded up
		// to an allocator size class.
		n := kernels.NNMFApproxScratchLen(k, d)
		buf := make([]float32, n+kernels.NNMFApproxAccLen(k, d))
		ws.fused, ws.acc = buf[:n:n], buf[n:]
	}
	if l.method == Implicit {
		ws.kd = make([]float32, k*d)
		ws.c = make([]float32, d)
		ws.kk = make([]float32, k*k)
		ws.a = make([]float64, k*k)
		ws.lu = make([]float64, k*k)
		ws.nk = make([]float64, k)
		ws.rhs = make([]float64, k)
		ws.tmp = make([]float64, k)
		ws.piv = make([]int, k)
	}
	return ws
}

// MaxRows is the largest row count the workspace accepts.
func (ws *Workspace) MaxRows() int { return ws.maxRows }

func (l *Layer) checkArgs(ws *Workspace, x []float32, rows int, w, h []float32) error {
	k, d := l.Out, l.In
	switch {
	case ws == nil:
		return l.errorf("nil workspace")
	case len(ws.packed) != kernels.NNMFPackedLen(k, d):
		return l.errorf("workspace was made for another layer shape")
	case l.Precision == kernels.BF16 && len(ws.packedBF16) != kernels.NNMFPackedLenBF16(k, d):
		return l.errorf("workspace was made for a float32 layer, the layer is bf16")
	case rows < 0 || rows > ws.maxRows:
		return l.errorf("%d rows, workspace holds at most %d", rows, ws.maxRows)
	case len(x) < rows*d:
		return l.errorf("input has %d values, want %d rows × %d", len(x), rows, d)
	case len(w) < k*d:
		return l.errorf("weight has %d values, want %d × %d", len(w), k, d)
	case len(h) < rows*k:
		return l.errorf("output has %d values, want %d rows × %d", len(h), rows, k)
	}
	return nil
}

// Forward runs the T multiplicative updates of spec §1.3 on every row of x
// (rows × D, non-negative) with the normalised weight w (K × D) and writes h
// (rows × K). With needGrad it keeps in ws what the layer's backward method
// needs besides x, w and h (the iterates for Unrolled, h^{T−1} for LastIter).
// A non-finite h returns an error wrapping ErrNotFinite.
func (l *Layer) Forward(ws *Workspace, x []float32, rows int, w, h []float32, needGrad bool) error {
	if err := l.checkArgs(ws, x, rows, w, h); err != nil {
		return err
	}
	k, d, t := l.Out, l.In, l.Iterations
	ws.rows, ws.gradRows = rows, -1
	if rows == 0 {
		if needGrad {
			ws.gradRows = 0
		}
		return nil
	}
	ws.bf16 = l.EffectivePrecision() == kernels.BF16
	if ws.bf16 {
		kernels.NNMFPackBF16(w, k, d, ws.packedBF16)
	} else {
		kernels.NNMFPack(w, k, d, ws.packed)
	}
	h = h[:rows*k]
	h0 := float32(1.0 / float64(k))
	for i := range h {
		h[i] = h0
	}
	// Iterating in pieces gives the same bits as one call: h round-trips through
	// float32 memory after every iteration either way. l.iterate returns
	// early only when Stop is closed (interrupt.go).
	switch {
	case needGrad && l.method == Unrolled:
		for it := 0; it < t; it++ {
			copy(ws.hist[it*rows*k:(it+1)*rows*k], h)
			if err := l.iterate(ws, x, rows, 1, h); err != nil {
				return err
			}
		}
		ws.gradRows = rows
	case needGrad && (l.method == LastIter || l.method == LastIterSqrtT):
		if err := l.iterate(ws, x, rows, t-1, h); err != nil {
			return err
		}
		copy(ws.hist[:rows*k], h)
		if err := l.iterate(ws, x, rows, 1, h); err != nil {
			return err
		}
		ws.gradRows = rows
	default:
		if err := l.iterate(ws, x, rows, t, h); err != nil {
			return err
		}
		if needGrad {
			ws.gradRows = rows
		}
	}
	if i := kernels.FirstNonFinite(h); i >= 0 {
		ws.gradRows = -1
		return l.notFinite("output h", i)
	}
	return nil
}

// blockFloats is the size of one D-wide backward buffer, in floats.
var blockFloats = 131072
