// Package nn holds the layers of the paper's networks, each with its forward and
// backward written out side by side (no autograd graph), the builder that
// turns an official network config into the official layer sequence (same
// indices, hence the official state_dict keys), the six presets, and
// safetensors input and output.
//
// Where to start: Preset or LoadConfig gives a *Config, Build makes a
// *Network for an input Shape and a largest batch; Network.Forward and
// Network.Backward run it on NCHW batches, Params lists the parameters in
// state_dict order with their optimiser groups, and SaveWeights/LoadWeights
// exchange weights with PyTorch. Training itself lives in package train.
package nn
