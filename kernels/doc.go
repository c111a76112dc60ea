// Package kernels holds the stateless float32 routines everything else runs on:
// GEMM in the transpose combinations the layers need, unfold (im2col) and its
// adjoint, element-wise and row/column reductions, the fused NNMF iteration (in
// float32, and opt-in with bf16 products on AVX512_BF16: nnmf_bf16.go), and
// the fixed-shard worker pool the layers use to split a batch across cores.
//
// Every optimised routine has a plain-Go twin (suffix Ref) that the tests use as
// the oracle. Assembly paths are chosen once at start-up from CPU features
// (golang.org/x/sys/cpu); the build tags noasm and purego (the
// community convention) both force pure Go.
//
// All routines write into caller-provided slices and never allocate.
package kernels
