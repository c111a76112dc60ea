package train

import "fmt"

// Stepper runs one training step or one inference pass at a time with the
// same calls, optimiser set-up and loss as the engine, for `deepnmf bench`.
// Its buffers are made once, so its steady state allocates nothing.
type Stepper struct {
	Model    Model
	Opt      *Optimizers
	LossMode LossMode
	grad     []float32
}

// NewStepper sets up the official optimiser set (one Adam per non-empty
// parameter group with cfg's learning rates) for model; maxBatch sizes the
// loss-gradient buffer.
func NewStepper(model Model, cfg Config, maxBatch int) (*Stepper, error) {
	if maxBatch < 1 {
		return nil, fmt.Errorf("train: stepper needs a positive batch size, got %d", maxBatch)
	}
	opt, err := NewOptimizers(model.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		return nil, err
	}
	return &Stepper{Model: model, Opt: opt, LossMode: cfg.LossMode, grad: make([]float32, maxBatch*model.Classes())}, nil
}

// TrainStep is one step of the engine's training loop on the batch x (NCHW)
// with labels: forward in training mode, accuracy count, loss, backward and
// every optimiser's update. It returns the number of correct predictions and the loss.
func (s *Stepper) TrainStep(x []float32, labels []int) (correct int, loss float32, err error) {
	n, classes := len(labels), s.Model.Classes()
	if n*classes > len(s.grad) {
		return 0, 0, fmt.Errorf("train: stepper: batch of %d exceeds its size %d", n, len(s.grad)/classes)
	}
	s.Model.SetTraining(true)
	probs, err := s.Model.Forward(x, n)
	if err != nil {
		return 0, 0, fmt.Errorf("train: stepper: forward: %w", err)
	}
	correct = countCorrect(probs, labels, classes)
	grad := s.grad[:n*classes]
	if loss, err = Loss(s.LossMode, probs, labels, classes, grad); err != nil {
		return 0, 0, err
	}
	if !isFinite32(loss) {
		return 0, 0, fmt.Errorf("train: stepper: loss is %v: %w", loss, ErrNotFinite)
	}
	if err := s.Model.Backward(grad); err != nil {
		return 0, 0, fmt.Errorf("train: stepper: backward: %w", err)
	}
	s.Opt.Step()
	return correct, loss, nil
}

// Infer is one evaluation pass as the engine's test loop makes it: forward
// in evaluation mode and the accuracy count.
func (s *Stepper) Infer(x []float32, labels []int) (correct int, err error) {
	s.Model.SetTraining(false)
	probs, err := s.Model.Forward(x, len(labels))
	if err != nil {
		return 0, fmt.Errorf("train: stepper: forward: %w", err)
	}
	return countCorrect(probs, labels, s.Model.Classes()), nil
}
