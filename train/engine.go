package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
)

// Config is the training protocol. DefaultConfig is the official one.
type Config struct {
	Epochs   int                   // epoch cap (official 500)
	LossMode LossMode              // spec §3.2
	LR       [nn.NumGroups]float64 // initial rate per group, in nn.Group order
	Adam     AdamConfig
	Plateau  PlateauConfig
	LRLimit  float64 // stop once float32(max lr) < LRLimit (official 1e-9)
}

// DefaultConfig is the official protocol (spec §3.3, §6 item 8): neuron a 0.01,
// neuron b, batchnorm2d and neuron pool 0.001.
func DefaultConfig() Config {
	return Config{
		Epochs:   500,
		LossMode: LossMSEKL,
		LR:       [nn.NumGroups]float64{0.01, 0.001, 0.001, 0.001},
		Adam:     DefaultAdam(),
		Plateau:  DefaultPlateau(),
		LRLimit:  1e-9,
	}
}

// TrainData yields the shuffled, augmented training batches. Batch b of epoch
// e must be a pure function of (e, b) and the data's own fixed settings, so
// that a resumed run sees the same batches as an uninterrupted one.
type TrainData interface {
	Images() int // images per epoch
	Batches() int
	// Batch writes batch b of epoch e as NCHW float32 into x and its labels
	// into labels and returns the number of images.
	Batch(epoch, b int, x []float32, labels []int) (int, error)
}

// TestData yields the evaluation batches in a fixed order.
type TestData interface {
	Images() int
	Batches() int
	Batch(b int, x []float32, labels []int) (int, error)
}

// Network is what training and evaluation need of a network; *nn.Network
// implements it.
type Network interface {
	Params() []*nn.Param
	Forward(x []float32, batch int) ([]float32, error)
	Backward(gradOut []float32) error
	SetTraining(training bool)
	Classes() int
}

// Metrics is one row of metrics.csv.
type Metrics struct {
	Epoch             int       `json:"epoch"`
	TrainLossPerImage float64   `json:"train_loss_per_image"`
	TrainLossSum      float64   `json:"train_loss_sum"` // the scheduler's input
	TrainCorrect      int       `json:"train_correct"`
	TrainImages       int       `json:"train_images"`
	TestCorrect       int       `json:"test_correct"`
	TestImages        int       `json:"test_images"`
	LRs               []float64 `json:"lrs"` // per optimiser after the scheduler step
	TrainSeconds      float64   `json:"train_s"`
	TestSeconds       float64   `json:"test_s"`
	Params            int       `json:"params"`
}

// TrainAcc and TestAcc are percentages, as in the reference CSV.
func (m Metrics) TrainAcc() float64 { return percent(m.TrainCorrect, m.TrainImages) }
func (m Metrics) TestAcc() float64  { return percent(m.TestCorrect, m.TestImages) }

func percent(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

// LRMax is the largest learning rate over all groups.
func (m Metrics) LRMax() float64 {
	v := 0.0
	for _, lr := range m.LRs {
		v = max(v, lr)
	}
	return v
}

// Hooks observe the engine; any field may be nil.
type Hooks struct {
	EpochStart func(epoch, batches int)
	BatchDone  func(epoch, batch, images int, loss float32)
	TestStart  func(epoch, batches int)
	TestBatch  func(epoch, batch, images int)
	// EpochDone runs after the epoch's metrics and checkpoint are final.
	EpochDone func(m Metrics)
}

// ErrInterrupted is returned when the context is cancelled: the current
// epoch is abandoned and the last checkpoint is left as it was.
var ErrInterrupted = errors.New("training interrupted")

// ErrNotFinite is wrapped when a loss, an activation, a gradient or a weight
// becomes NaN or infinite. It is the nnmf package's sentinel, so errors.Is
// finds a failure of the NNMF layer and one of the loss alike.
var ErrNotFinite = nnmf.ErrNotFinite

// Engine runs epochs: train, scheduler step, test, metrics, checkpoint, stop rule.
type Engine struct {
	Net   Network
	Opt   *Optimizers
	Cfg   Config
	Train TrainData
	Test  TestData
	// MaxBatch sizes the batch buffers; every data batch must fit.
	MaxBatch int
	// InputLen is the number of float32 values of one image.
	InputLen int
	// Checkpoint writes the state after an epoch (nil: none). It must leave the
	// previous checkpoint intact if it fails.
	Checkpoint func(e *Engine) error
	Hooks      Hooks

	// Epoch is the index of the next epoch to run (restored on resume).
	Epoch int
	// History holds every finished epoch's metrics.
	History []Metrics
	// Stopped is set when the stop rule ended training (the epoch cap is
	// Cfg.Epochs and may be raised on resume; the stop rule is final).
	Stopped bool

	step   *Stepper
	x      []float32
	labels []int
}

// Run trains until the stop rule fires, the epoch cap is reached, ctx is
// cancelled (ErrInterrupted) or an error occurs. Epochs already in History are
// not repeated.
func (e *Engine) Run(ctx context.Context) error {
	if e.MaxBatch < 1 || e.InputLen < 1 {
		return fmt.Errorf("train: engine needs MaxBatch and InputLen, got %d and %d", e.MaxBatch, e.InputLen)
	}
	step, err := newStepper(e.Net, e.Opt, e.Cfg.LossMode, e.MaxBatch)
	if err != nil {
		return err
	}
	e.step = step
	defer interruptInside(e.Net, ctx)()
	e.x = make([]float32, e.MaxBatch*e.InputLen)
	e.labels = make([]int, e.MaxBatch)
	for !e.Stopped && e.Epoch < e.Cfg.Epochs {
		m, err := e.runEpoch(ctx)
		if err != nil {
			return err
		}
		e.History = append(e.History, m)
		e.Epoch++
		if ShouldStop(m.LRs, e.Cfg.LRLimit) {
			e.Stopped = true
		}
		if e.Checkpoint != nil {
			if err := e.Checkpoint(e); err != nil {
				return fmt.Errorf("train: checkpoint after epoch %d: %w", m.Epoch+1, err)
			}
		}
		if e.Hooks.EpochDone != nil {
			e.Hooks.EpochDone(m)
		}
	}
	return nil
}

func (e *Engine) runEpoch(ctx context.Context) (Metrics, error) {
	epoch := e.Epoch
	m := Metrics{Epoch: epoch}
	m.Params, _ = nn.CountParams(e.Net.Params())

	start := time.Now()
	nb := e.Train.Batches()
	if e.Hooks.EpochStart != nil {
		e.Hooks.EpochStart(epoch, nb)
	}
	for b := range nb {
		if ctx.Err() != nil {
			return m, fmt.Errorf("%w during epoch %d (before batch %d of %d)", ErrInterrupted, epoch+1, b+1, nb)
		}
		n, err := e.Train.Batch(epoch, b, e.x, e.labels)
		if err != nil {
			return m, fmt.Errorf("train: epoch %d batch %d: %w", epoch+1, b+1, err)
		}
		correct, loss, err := e.step.TrainStep(e.x[:n*e.InputLen], e.labels[:n])
		if errors.Is(err, nn.ErrInterrupted) {
			return m, fmt.Errorf("%w during epoch %d (inside batch %d of %d)", ErrInterrupted, epoch+1, b+1, nb)
		} else if err != nil {
			return m, divergedHint(fmt.Errorf("train: epoch %d batch %d: %w", epoch+1, b+1, err), e.Cfg.LR)
		}
		m.TrainCorrect += correct
		// loss.item() added to a Python float (spec §3.3).
		m.TrainLossSum += float64(loss)
		m.TrainImages += n
		if e.Hooks.BatchDone != nil {
			e.Hooks.BatchDone(epoch, b, n, loss)
		}
	}
	m.TrainSeconds = time.Since(start).Seconds()
	if m.TrainImages > 0 {
		m.TrainLossPerImage = m.TrainLossSum / float64(m.TrainImages)
	}
	// The official loop steps the schedulers after training and before testing.
	e.Opt.EpochEnd(m.TrainLossSum)
	m.LRs = e.Opt.LRs()

	start = time.Now()
	correct, images, err := e.evaluate(ctx, epoch)
	if err != nil {
		return m, err
	}
	m.TestCorrect, m.TestImages = correct, images
	m.TestSeconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return m, fmt.Errorf("%w at the end of epoch %d, before its checkpoint", ErrInterrupted, epoch+1)
	}
	return m, nil
}

func (e *Engine) evaluate(ctx context.Context, epoch int) (correct, images int, err error) {
	defer e.Net.SetTraining(true)
	nb := e.Test.Batches()
	if e.Hooks.TestStart != nil {
		e.Hooks.TestStart(epoch, nb)
	}
	for b := range nb {
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("%w while testing after epoch %d", ErrInterrupted, epoch+1)
		}
		n, err := e.Test.Batch(b, e.x, e.labels)
		if err != nil {
			return 0, 0, fmt.Errorf("train: test batch %d: %w", b+1, err)
		}
		c, err := infer(e.Net, e.x[:n*e.InputLen], e.labels[:n])
		if errors.Is(err, nn.ErrInterrupted) {
			return 0, 0, fmt.Errorf("%w while testing after epoch %d", ErrInterrupted, epoch+1)
		} else if err != nil {
			return 0, 0, fmt.Errorf("train: test batch %d after epoch %d: %w", b+1, epoch+1, err)
		}
		correct += c
		images += n
		if e.Hooks.TestBatch != nil {
			e.Hooks.TestBatch(epoch, b, n)
		}
	}
	return correct, images, nil
}

// countCorrect counts rows whose first maximal probability is at the label,
// as torch.argmax picks the first maximum.
func countCorrect(probs []float32, labels []int, classes int) int {
	n := 0
	for b, l := range labels {
		if Argmax(probs[b*classes:(b+1)*classes]) == l {
			n++
		}
	}
	return n
}

// Argmax returns the index of the first largest value.
func Argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}
