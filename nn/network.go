package nn

import (
	"errors"
	"fmt"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nnmf"
)

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

// Shape is the size of one image or feature map: channels, height, width.
type Shape struct{ C, H, W int }

func (s Shape) size() int { return s.C * s.H * s.W }

// Options are the build-time choices that the config file does not carry.
type Options struct {
	// Threads is the number of shards of the network's kernels.Pool (default
	// 1). It is never clamped, because the shard count fixes the order of the
	// gradient sums and so the bits of the results; each shard's workspace
	// is counted in the memory estimate, so an absurd count is refused by
	// the MaxMemory budget instead.
	Threads      int
	Backward     nnmf.Method // backward method of every NNMF layer (default Approx)
	Iterations   int         // > 0 overrides cfg.Iterations for a/b-slot NNMF layers (not pooling)
	RunningStats bool        // BatchNorm keeps running statistics (momentum 0.1), used when not training
	// Precision of every NNMF layer's forward iterations (default float32;
	// kernels.BF16 where the CPU has AVX512_BF16, else float32: see
	// Network.EffectivePrecision). Backward passes are float32 either way.
	Precision kernels.Precision
	// MaxMemory is the memory budget in bytes that Build checks the
	// network's estimate against (see EstimateMemory): 0 means
	// DefaultMaxMemory(), a negative value no limit.
	MaxMemory int64
	// Optimizer counts Adam's two moments per parameter, which a trainer
	// keeps beside the network, in the memory estimate.
	Optimizer bool
}

// LayerInfo describes one layer of the official Sequential.
type LayerInfo struct {
	Index  int    // position in the official Sequential (the state_dict key prefix)
	Type   string // official class name (ReLU, Unfold, Fold, L1NormLayer, NNMF2d, Conv2d, ...)
	Desc   string // printed description
	Out    Shape  // output of one sample; for Unfold C = C_in·kh·kw and H×W = the patch grid
	Params int    // number of trainable values
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
//   - SetTraining(false) is evaluation: the NNMF layers keep no iterates for a
//     backward pass, and BatchNorm uses its running
//     statistics when they are enabled (by default it always uses batch
//     statistics, as the official track_running_stats=False).
type Network struct {
	params   []*Param
	layers   []layer
	pool     *kernels.Pool
	cfg      *Config
	in       Shape
	maxBatch int
	opt      Options
	training bool

	gradOut   []float32       // ∂L/∂output, the last layer's gy
	firstGrad int             // backward stops at this layer (the first one with parameters)
	batch     int             // batch of the last Forward, 0 before the first
	interrupt <-chan struct{} // see SetInterrupt
}

// Params lists the trainable parameters in official state_dict order.
func (n *Network) Params() []*Param { return n.params }

// Config returns the network's config.
func (n *Network) Config() *Config { return n.cfg }

// Input is the shape of one input image.
func (n *Network) Input() Shape { return n.in }

// MaxBatch is the largest batch Forward accepts.
func (n *Network) MaxBatch() int { return n.maxBatch }

// Classes is the number of outputs per sample.
func (n *Network) Classes() int { return n.layers[len(n.layers)-1].base().out.C }

// SetTraining switches between training (the default after Build) and
// evaluation. Evaluation skips what only a backward pass needs (the NNMF
// iterates of the unrolled and last-iteration methods) and, with
// Options.RunningStats, makes BatchNorm use its running statistics.
func (n *Network) SetTraining(training bool) { n.training = training }

// Close stops the network's worker goroutines. The network must not be used afterwards.
func (n *Network) Close() { n.pool.Close() }

// EffectivePrecision is the precision the NNMF forwards run in now: the
// requested Options.Precision, except bf16 where the CPU, the build or
// DEEPNMF_CPU offers no AVX512_BF16, which runs float32.
func (n *Network) EffectivePrecision() kernels.Precision {
	return kernels.EffectivePrecision(n.opt.Precision)
}

// Layers describes the layers in official Sequential order.
func (n *Network) Layers() []LayerInfo {
	out := make([]LayerInfo, len(n.layers))
	for i, l := range n.layers {
		out[i] = l.base().info
	}
	return out
}

// ParamCount returns the number of trainable values in total and per group.
func (n *Network) ParamCount() (total int, perGroup [NumGroups]int) { return CountParams(n.params) }

// CountParams is the official parameter count (every element of every
// parameter tensor) of params, in total and per optimiser group.
func CountParams(params []*Param) (total int, perGroup [NumGroups]int) {
	for _, p := range params {
		total += len(p.Data)
		perGroup[p.Group] += len(p.Data)
	}
	return total, perGroup
}

// Forward runs the network on an NCHW batch and returns the batch × classes
// probabilities, valid until the next Forward.
func (n *Network) Forward(x []float32, batch int) ([]float32, error) {
	if batch < 1 || batch > n.maxBatch {
		return nil, fmt.Errorf("nn: batch %d outside [1, %d] (the max batch given at build time)", batch, n.maxBatch)
	}
	if need := batch * n.in.size(); len(x) < need {
		return nil, fmt.Errorf("nn: input has %d values, batch %d of %d×%d×%d needs %d", len(x), batch, n.in.C, n.in.H, n.in.W, need)
	}
	n.batch = 0
	// The first layer (a ReLU, elementwise) and the first Unfold read the
	// caller's NCHW batch in place.
	n.layers[0].base().x = x[:batch*n.in.size()]
	for i, l := range n.layers {
		if err := n.interrupted(i); err != nil {
			return nil, err
		}
		b := l.base()
		b.batch = batch
		if err := l.forward(batch); err != nil {
			return nil, err
		}
	}
	n.batch = batch
	last := n.layers[len(n.layers)-1].base()
	return last.y[:batch*last.out.C], nil
}

// Backward back-propagates ∂L/∂probabilities of the last Forward into every
// Param.Grad (overwriting it).
func (n *Network) Backward(gradOut []float32) error {
	if n.batch == 0 {
		return errors.New("nn: Backward without a successful Forward")
	}
	need := n.batch * n.Classes()
	if len(gradOut) < need {
		return fmt.Errorf("nn: gradient has %d values, batch %d × %d classes needs %d", len(gradOut), n.batch, n.Classes(), need)
	}
	copy(n.gradOut[:need], gradOut[:need])
	for i := len(n.layers) - 1; i >= n.firstGrad; i-- {
		if err := n.interrupted(i); err != nil {
			return err
		}
		if err := n.layers[i].backward(n.batch); err != nil {
			return err
		}
	}
	return nil
}
