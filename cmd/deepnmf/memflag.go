package main

import (
	"github.com/spf13/pflag"

	"github.com/deepnmf/deepnmf/nn"
)

// addMaxMemoryFlag adds --max-memory, the same for every command that builds
// a network, storing the budget in bytes in p (nn.Options.MaxMemory).
func addMaxMemoryFlag(fs *pflag.FlagSet, p *int64) {
	fs.Var((*nn.ByteSize)(p), "max-memory", "memory budget of the network (parameters, gradients, optimiser state, activations and per-thread workspaces for the batch size × threads), e.g. 2GiB or 500MiB; the network is refused before it is built when its estimate exceeds it (0 = half of the machine's RAM)")
}
