package train

import (
	"context"
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// constModel outputs fixed probabilities and zero gradients, so the loss
// never improves: the schedule is then the official one for a flat loss.
type constModel struct {
	params []*nn.Param
	probs  []float32
}

func newConstModel() *constModel {
	m := &constModel{}
	for g := range nn.Group(3) {
		m.params = append(m.params, &nn.Param{Key: g.String(), Group: g, Data: []float32{1, 2}, Grad: make([]float32, 2)})
	}
	return m
}

func (m *constModel) Params() []*nn.Param { return m.params }
func (m *constModel) Classes() int        { return 3 }
func (m *constModel) SetTraining(bool)    {}
func (m *constModel) Backward([]float32) error {
	for _, p := range m.params {
		clear(p.Grad)
	}
	return nil
}
func (m *constModel) Forward(x []float32, batch int) ([]float32, error) {
	m.probs = m.probs[:0]
	for range batch {
		m.probs = append(m.probs, 0.5, 0.3, 0.2)
	}
	return m.probs, nil
}

// fixedData: batch b holds labels b, b+1, ... mod 3; images are ignored.
type fixedData struct{ images, batch int }

func (d fixedData) Images() int  { return d.images }
func (d fixedData) Batches() int { return (d.images + d.batch - 1) / d.batch }
func (d fixedData) Batch(epoch, b int, x []float32, labels []int) (int, error) {
	n := min(d.batch, d.images-b*d.batch)
	for i := range n {
		labels[i] = (b + i) % 3
	}
	return n, nil
}

type fixedTest struct{ fixedData }

func (d fixedTest) Batch(b int, x []float32, labels []int) (int, error) {
	return d.fixedData.Batch(0, b, x, labels)
}

func TestEngineFlatLossFollowsOfficialSchedule(t *testing.T) {
	model := newConstModel()
	cfg := DefaultConfig()
	opt, err := NewOptimizers(model.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		t.Fatal(err)
	}
	train := fixedData{images: 7, batch: 3}
	var batchLosses float64
	e := &Engine{Net: model, Opt: opt, Cfg: cfg, Train: train, Test: fixedTest{fixedData{images: 5, batch: 3}},
		MaxBatch: 3, InputLen: 1}
	e.Hooks.BatchDone = func(epoch, _, _ int, loss float32) {
		if epoch == 0 {
			batchLosses += float64(loss)
		}
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !e.Stopped || len(e.History) != 78 {
		t.Fatalf("stopped %v after %d epochs, want the stop rule after epoch index 77", e.Stopped, len(e.History))
	}
	m0 := e.History[0]
	if m0.TrainLossSum != batchLosses || m0.TrainLossPerImage != batchLosses/7 {
		t.Errorf("epoch 0 loss sum %v per image %v, the batches sum to %v", m0.TrainLossSum, m0.TrainLossPerImage, batchLosses)
	}
	// Class 0 has the largest probability: labels 0 are correct. Train
	// labels 0,1,2 | 1,2,0 | 2 → 2 of 7; test 0,1,2 | 1,2 → 1 of 5.
	if m0.TrainCorrect != 2 || m0.TestCorrect != 1 || m0.TrainImages != 7 || m0.TestImages != 5 {
		t.Errorf("epoch 0 counts: train %d/%d test %d/%d", m0.TrainCorrect, m0.TrainImages, m0.TestCorrect, m0.TestImages)
	}
	// The scheduler steps before the epoch's row is taken: the 11th epoch
	// already shows the first reduction.
	if lr := e.History[11].LRs[0]; lr != 0.01*0.1 {
		t.Errorf("neuron a lr after epoch 11 = %v, want 0.001", lr)
	}
	if lr := e.History[10].LRs[0]; lr != 0.01 {
		t.Errorf("neuron a lr after epoch 10 = %v, want 0.01", lr)
	}
	last := e.History[77]
	if math.Abs(last.LRMax()-1e-9)/1e-9 > 1e-12 {
		t.Errorf("lr_max at the stop = %v, want 1e-9 (before float32 rounding)", last.LRMax())
	}
}
