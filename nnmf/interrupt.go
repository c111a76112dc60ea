package nnmf

import (
	"errors"
	"fmt"

	"github.com/deepnmf/deepnmf/kernels"
)

// ErrInterrupted is wrapped by Forward and Backward when the layer's Stop
// channel was closed: the call gave up part-way and its outputs are garbage.
var ErrInterrupted = errors.New("interrupted")

// interruptIters and interruptWork bound the work Forward does between two
// looks at Stop: at most 32 multiplicative updates of at most ~2²⁷
// multiply-adds (tens of milliseconds). A run with the official iteration
// count (20) still makes one pass per row tile; one with 10⁶ iterations or a
// huge batch answers a Ctrl-C within that bound instead of after the batch.
const interruptIters = 32

var interruptWork = 1 << 27 // a variable for the tests

// stopped reports whether Stop is closed; a nil Stop never is.
func (l *Layer) stopped() bool {
	select {
	case <-l.Stop:
		return true
	default:
		return false
	}
}

func (l *Layer) interrupted() error { return fmt.Errorf("%s: %w", l.name(), ErrInterrupted) }

// iterate runs n updates on h in pieces: blocks of whole row tiles, each
// taken through the n updates in runs of at most interruptIters, giving up
// between two pieces once Stop is closed. Pieces give the same bits as one
// call: rows are independent, the kernel works on the same tiles, and h
// round-trips through float32 memory after every update either way.
func (l *Layer) iterate(ws *Workspace, x []float32, rows, n int, h []float32) error {
	k, d, tile := l.Out, l.In, kernels.NNMFTileRows
	block := max(tile, interruptWork/max(1, k*d*min(n, interruptIters))/tile*tile)
	for r0 := 0; r0 < rows; r0 += block {
		r1 := min(rows, r0+block)
		for left := n; left > 0; {
			if l.stopped() {
				return l.interrupted()
			}
			c := min(left, interruptIters)
			if ws.bf16 {
				kernels.NNMFIterateBF16(x[r0*d:r1*d], r1-r0, k, d, c, l.UseEpsilon, l.Epsilon, ws.packedBF16, h[r0*k:r1*k], ws.scratchBF16)
			} else {
				kernels.NNMFIterate(x[r0*d:r1*d], r1-r0, k, d, c, l.UseEpsilon, l.Epsilon, ws.packed, h[r0*k:r1*k], ws.scratch)
			}
			left -= c
		}
	}
	return nil
}
