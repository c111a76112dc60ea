package train

import (
	"fmt"

	"github.com/deepnmf/deepnmf/kernels"
)

// Stepper is one training step and one inference pass, written once: the
// engine's epoch loop calls it for every batch and `deepnmf bench` times it,
// so what is benchmarked is what trains. Its buffers are made once, so its
// steady state allocates nothing.
type Stepper struct {
	Net      Network
	Opt      *Optimizers
	LossMode LossMode
	grad     []float32
}

// NewStepper sets up the official optimiser set (one Adam per non-empty
// parameter group with cfg's learning rates) for net; maxBatch sizes the
// loss-gradient buffer.
func NewStepper(net Network, cfg Config, maxBatch int) (*Stepper, error) {
	opt, err := NewOptimizers(net.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		return nil, err
	}
	return newStepper(net, opt, cfg.LossMode, maxBatch)
}

func newStepper(net Network, opt *Optimizers, mode LossMode, maxBatch int) (*Stepper, error) {
	if maxBatch < 1 {
		return nil, fmt.Errorf("train: stepper needs a positive batch size, got %d", maxBatch)
	}
	return &Stepper{Net: net, Opt: opt, LossMode: mode, grad: make([]float32, maxBatch*net.Classes())}, nil
}

// TrainStep is one step of training on the batch x (NCHW) with labels:
// forward in training mode, accuracy count, loss, backward, every
// optimiser's update, and the check that no parameter became NaN or infinite.
// It returns the number of correct predictions and the loss.
func (s *Stepper) TrainStep(x []float32, labels []int) (correct int, loss float32, err error) {
	n, classes := len(labels), s.Net.Classes()
	if n*classes > len(s.grad) {
		return 0, 0, fmt.Errorf("batch of %d exceeds the stepper's size %d", n, len(s.grad)/classes)
	}
	s.Net.SetTraining(true)
	probs, err := s.Net.Forward(x, n)
	if err != nil {
		return 0, 0, fmt.Errorf("forward: %w", err)
	}
	correct = countCorrect(probs, labels, classes)
	grad := s.grad[:n*classes]
	if loss, err = Loss(s.LossMode, probs, labels, classes, grad); err != nil {
		return 0, 0, err
	}
	if kernels.FirstNonFinite([]float32{loss}) >= 0 {
		return 0, 0, fmt.Errorf("loss is %v: %w", loss, ErrNotFinite)
	}
	if err := s.Net.Backward(grad); err != nil {
		return 0, 0, fmt.Errorf("backward: %w", err)
	}
	s.Opt.Step()
	for _, p := range s.Net.Params() {
		if i := kernels.FirstNonFinite(p.Data); i >= 0 {
			return 0, 0, fmt.Errorf("parameter %s[%d] is %v after the optimiser step: %w", p.Key, i, p.Data[i], ErrNotFinite)
		}
	}
	return correct, loss, nil
}

// Infer is one evaluation pass as the test loop makes it: forward in
// evaluation mode and the accuracy count. It leaves the network in
// evaluation mode.
func (s *Stepper) Infer(x []float32, labels []int) (correct int, err error) {
	return infer(s.Net, x, labels)
}

func infer(net Network, x []float32, labels []int) (int, error) {
	net.SetTraining(false)
	probs, err := net.Forward(x, len(labels))
	if err != nil {
		return 0, fmt.Errorf("forward: %w", err)
	}
	return countCorrect(probs, labels, net.Classes()), nil
}
