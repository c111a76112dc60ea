package nnmf

import (
	"errors"
	"fmt"

	"github.com/deepnmf/deepnmf/kernels"
)

// ErrInterrupted is wrapped by Forward and Backward when the layer's Stop
// channel was closed: the call gave up part-way and its outputs are garbage.
var ErrInterrupted = errors.New("interrupted")

// interruptIters is the most multiplicative updates Forward runs between two
// looks at Stop. A run with the official iteration counts (20) makes one
// kernel call per Forward as before; one with 10⁶ iterations answers a
// Ctrl-C after at most 32 updates of the layer instead of after the batch.
const interruptIters = 32

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

// iterate runs n updates on h in pieces of at most interruptIters, giving up
// between two pieces once Stop is closed. Pieces give the same bits as one
// call: h round-trips through float32 memory after every update either way.
func (l *Layer) iterate(ws *Workspace, x []float32, rows, n int, h []float32) error {
	for n > 0 {
		if l.stopped() {
			return l.interrupted()
		}
		c := min(n, interruptIters)
		kernels.NNMFIterate(x, rows, l.Out, l.In, c, l.UseEpsilon, l.Epsilon, ws.packed, h, ws.scratch)
		n -= c
	}
	return nil
}
