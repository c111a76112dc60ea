package train

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// oneBatch is a training set of a single seeded batch.
type oneBatch struct {
	x      []float32
	labels []int
}

func (d oneBatch) Images() int  { return len(d.labels) }
func (d oneBatch) Batches() int { return 1 }
func (d oneBatch) Batch(_, _ int, x []float32, labels []int) (int, error) {
	copy(x, d.x)
	copy(labels, d.labels)
	return len(d.labels), nil
}

type noTest struct{}

func (noTest) Images() int                              { return 0 }
func (noTest) Batches() int                             { return 0 }
func (noTest) Batch(int, []float32, []int) (int, error) { return 0, nil }

// A Stepper's training step leaves the weights, the optimiser state and the
// accuracy count exactly as one epoch of the engine on the same batch does.
func TestStepperTrainStepMatchesEngine(t *testing.T) {
	netCfg, err := nn.LoadConfig(filepath.Join("testdata", "tiny_cnmf_1x1.json"))
	if err != nil {
		t.Fatal(err)
	}
	in := nn.Shape{C: 3, H: 28, W: 28}
	const batch = 4
	build := func() *nn.Network {
		net, err := nn.Build(netCfg, in, batch, nn.Options{Threads: 2}, 7)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(net.Close)
		return net
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := oneBatch{x: make([]float32, batch*in.C*in.H*in.W), labels: make([]int, batch)}
	for i := range data.x {
		data.x[i] = rng.Float32()
	}
	for i := range data.labels {
		data.labels[i] = rng.IntN(10)
	}

	cfg := DefaultConfig()
	engineNet := build()
	opt, err := NewOptimizers(engineNet.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 1
	e := &Engine{Net: engineNet, Opt: opt, Cfg: cfg, Train: data, Test: noTest{}, MaxBatch: batch, InputLen: in.C * in.H * in.W}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	stepNet := build()
	s, err := NewStepper(stepNet, DefaultConfig(), batch)
	if err != nil {
		t.Fatal(err)
	}
	correct, loss, err := s.TrainStep(data.x, data.labels)
	if err != nil {
		t.Fatal(err)
	}
	if m := e.History[0]; correct != m.TrainCorrect || float64(loss) != m.TrainLossSum {
		t.Errorf("stepper: %d correct, loss %v; engine: %d correct, loss %v", correct, loss, m.TrainCorrect, m.TrainLossSum)
	}
	for i, p := range stepNet.Params() {
		if !slices.Equal(p.Data, engineNet.Params()[i].Data) {
			t.Errorf("parameter %s differs from the engine's after one step", p.Key)
		}
	}
	for i, a := range s.Opt.Adams {
		if a.Step != 1 || a.LR != opt.Adams[i].LR || !slices.EqualFunc(a.M, opt.Adams[i].M, slices.Equal) {
			t.Errorf("optimiser %d: step %d, lr %v; engine's: step %d, lr %v (or moments differ)",
				i, a.Step, a.LR, opt.Adams[i].Step, opt.Adams[i].LR)
		}
	}

	if _, _, err := s.TrainStep(make([]float32, (batch+1)*in.C*in.H*in.W), make([]int, batch+1)); err == nil {
		t.Error("a batch larger than the stepper's buffer gave no error")
	}
	if _, err := NewStepper(stepNet, DefaultConfig(), 0); err == nil {
		t.Error("batch size 0 gave no error")
	}
}
