// Package nn holds the layers of the paper's networks, each with its forward and
// backward written out, the builder that turns an official network config into
// the official layer sequence (same indices, hence the official state_dict keys),
// and safetensors input and output.
package nn

import "errors"

// Group is a parameter group of the official optimiser set-up (spec §2.1):
// each non-empty group gets its own Adam and learning-rate scheduler.
type Group int

const (
	GroupNeuronA   Group = iota // "neuron a"
	GroupNeuronB                // "neuron b"
	GroupBatchNorm              // "batchnorm2d"
	GroupPool                   // "neuron pool"
	NumGroups
)

var groupNames = [...]string{"neuron a", "neuron b", "batchnorm2d", "neuron pool"}

// String returns the official group name.
func (g Group) String() string { return groupNames[g] }

// Param is one trainable tensor, named by its official PyTorch state_dict key.
type Param struct {
	Key   string    // e.g. "4.weight", "8.bias", "9.parametrizations.weight.original"
	Shape []int     // the official PyTorch shape
	Group Group     // optimiser group
	Data  []float32 // values, row-major
	Grad  []float32 // gradient of the last Backward, same length as Data
}

// Network is a built network that owns its workspace.
//
// API contract (used by package train):
//   - Params() lists the parameters in official state_dict order.
//   - Forward(x, batch) takes an NCHW float32 batch (batch ≤ the max batch given
//     at build time) and returns the batch × classes probabilities (valid until
//     the next Forward).
//   - Backward(gradOut) takes ∂L/∂probabilities (batch × classes) of the last
//     Forward and overwrites every Param.Grad.
//   - SetTraining selects batch statistics vs running statistics for BatchNorm
//     when running statistics are enabled (by default BatchNorm always uses batch
//     statistics, as the official track_running_stats=False).
type Network struct {
	params []*Param
}

var errNotBuilt = errors.New("nn: network not implemented yet")

// Params lists the trainable parameters in official state_dict order.
func (n *Network) Params() []*Param { return n.params }

// Forward runs the network on an NCHW batch and returns the probabilities.
func (n *Network) Forward(x []float32, batch int) ([]float32, error) { return nil, errNotBuilt }

// Backward back-propagates ∂L/∂probabilities of the last Forward into every Param.Grad.
func (n *Network) Backward(gradOut []float32) error { return errNotBuilt }

// SetTraining switches between training and evaluation behaviour.
func (n *Network) SetTraining(training bool) {}

// Classes is the number of outputs per sample.
func (n *Network) Classes() int { return 0 }
