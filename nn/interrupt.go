package nn

import (
	"fmt"

	"github.com/deepnmf/deepnmf/nnmf"
)

// ErrInterrupted is wrapped by Forward and Backward when the channel given
// to SetInterrupt was closed during the call (the nnmf package's sentinel, so
// that errors.Is finds an interruption inside an NNMF layer and one between
// layers alike).
var ErrInterrupted = nnmf.ErrInterrupted

// SetInterrupt makes Forward and Backward give up once done is closed: they
// look at it between layers and, inside NNMF layers, every few updates, so
// that a batch with a huge iteration count still ends soon after a Ctrl-C
// (pass ctx.Done()). The interrupted call returns an error wrapping
// ErrInterrupted; the weights are untouched, but activations and gradients
// of that call are garbage and Backward refuses to follow it. nil turns the
// check off. It must not be called during Forward or Backward.
func (n *Network) SetInterrupt(done <-chan struct{}) {
	n.interrupt = done
	for _, l := range n.layers {
		if m, ok := l.(*nnmfLayer); ok {
			m.core.Stop = done
		}
	}
}

// interrupted returns the error for a call stopped before layer i, or nil.
func (n *Network) interrupted(i int) error {
	select {
	case <-n.interrupt:
		return fmt.Errorf("nn: stopped before layer %d: %w", n.layers[i].base().info.Index, ErrInterrupted)
	default:
		return nil
	}
}
