package main

// maxMemoryUsage is the help of --max-memory, the same for every command
// that builds a network (nn.Options.MaxMemory).
const maxMemoryUsage = "memory budget of the network (parameters, gradients, optimiser state, activations and per-thread workspaces for the batch size × threads), e.g. 2GiB or 500MiB; the network is refused before it is built when its estimate exceeds it (0 = half of the machine's RAM)"
