package train

import "context"

// interruptible is a Network that can give up inside a batch (*nn.Network
// is one): its Forward and Backward return an error wrapping
// nn.ErrInterrupted once done is closed.
type interruptible interface {
	SetInterrupt(done <-chan struct{})
}

// interruptInside lets ctx stop net inside a batch, so that a Ctrl-C is
// honoured within a bounded time even when one batch takes minutes (a huge
// iteration count). The engine treats such an interruption like one between
// batches: the epoch is abandoned and the last checkpoint stays. The
// returned function undoes it.
func interruptInside(net Network, ctx context.Context) (undo func()) {
	in, ok := net.(interruptible)
	if !ok {
		return func() {}
	}
	in.SetInterrupt(ctx.Done())
	return func() { in.SetInterrupt(nil) }
}
