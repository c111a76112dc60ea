// Package nnmf is the NNMF layer of the paper (spec §1) on a (rows × D) matrix:
// the weight parametrisation, the multiplicative-update forward and every
// backward method. A convolutional NNMF layer is this layer on unfolded patches;
// a dense one is this layer on the rows themselves.
//
// Where to start: New makes a Layer from a Config (D, K, iterations T,
// backward Method); NormalizeWeights turns the stored weight V into the
// row-stochastic W the layer uses; Forward and Backward run on any range of
// rows with a per-goroutine Workspace; RawWeightGrad chains ∂L/∂W back to V.
package nnmf
