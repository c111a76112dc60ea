package train

import (
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

func TestAdamMatchesFormula(t *testing.T) {
	p := &nn.Param{Key: "w", Data: []float32{0.5, -1.25, 3}, Grad: make([]float32, 3)}
	a := NewAdam([]*nn.Param{p}, 0.01, DefaultAdam())
	w := []float64{0.5, -1.25, 3}
	m := make([]float64, 3)
	v := make([]float64, 3)
	grads := [][]float64{{0.1, -2, 1e-3}, {0.3, 1, -4e-3}, {-0.2, 0.5, 0}, {1e-5, -1e-5, 7}}
	for step, g := range grads {
		if step == 2 {
			a.LR = 0.001 // the scheduler may change the rate between steps
		}
		for i := range g {
			p.Grad[i] = float32(g[i])
		}
		a.Update()
		tt := float64(step + 1)
		lr := 0.01
		if step >= 2 {
			lr = 0.001
		}
		for i := range w {
			m[i] = 0.9*m[i] + 0.1*g[i]
			v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
			w[i] -= lr / (1 - math.Pow(0.9, tt)) * m[i] / (math.Sqrt(v[i])/math.Sqrt(1-math.Pow(0.999, tt)) + 1e-8)
		}
		for i := range w {
			if math.Abs(float64(p.Data[i])-w[i]) > 1e-6*math.Max(1, math.Abs(w[i])) {
				t.Fatalf("step %d: w[%d] = %v, float64 formula %v", step, i, p.Data[i], w[i])
			}
		}
	}
	if a.Step != len(grads) {
		t.Fatalf("step count %d, want %d", a.Step, len(grads))
	}
}

func TestPlateauNeverImprovingStopsAtEpoch77(t *testing.T) {
	params := []*nn.Param{
		{Key: "a", Group: nn.GroupNeuronA, Data: []float32{1}, Grad: []float32{0}},
		{Key: "b", Group: nn.GroupNeuronB, Data: []float32{1}, Grad: []float32{0}},
		{Key: "bn", Group: nn.GroupBatchNorm, Data: []float32{1}, Grad: []float32{0}},
	}
	opt, err := NewOptimizers(params, [nn.NumGroups]float64{0.01, 0.001, 0.001, 0.001}, DefaultAdam(), DefaultPlateau())
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.Adams) != 3 {
		t.Fatalf("%d optimisers for 3 non-empty groups", len(opt.Adams))
	}
	var reductions []int
	stopped := -1
	for epoch := range 500 {
		before := opt.Adams[0].LR
		opt.EpochEnd(1.2345)
		if opt.Adams[0].LR != before {
			reductions = append(reductions, epoch)
		}
		if ShouldStop(opt.LRs(), 1e-9) {
			stopped = epoch
			break
		}
	}
	if stopped != 77 {
		t.Fatalf("stopped after epoch %d, want 77 (reductions at %v)", stopped, reductions)
	}
	want := []int{11, 22, 33, 44, 55, 66, 77}
	if len(reductions) != len(want) {
		t.Fatalf("reductions at %v, want %v", reductions, want)
	}
	for i := range want {
		if reductions[i] != want[i] {
			t.Fatalf("reductions at %v, want %v", reductions, want)
		}
	}
	// The float64 rate alone would not stop yet: the float32 rounding does.
	if lr := opt.Adams[0].LR; !(lr >= 1e-9) {
		t.Fatalf("neuron a lr %v is below 1e-9 in float64; the test no longer exercises the float32 rule", lr)
	}
}

func TestPlateauRelativeThreshold(t *testing.T) {
	s := NewPlateau(DefaultPlateau())
	opt := &Adam{LR: 1}
	s.Step(100, opt)
	// An improvement smaller than 1e-4 relative counts as a bad epoch.
	s.Step(100*(1-0.5e-4), opt)
	if s.NumBadEpochs != 1 || s.Best != 100 {
		t.Fatalf("bad %d best %v after a sub-threshold improvement", s.NumBadEpochs, s.Best)
	}
	s.Step(99, opt)
	if s.NumBadEpochs != 0 || s.Best != 99 {
		t.Fatalf("bad %d best %v after a real improvement", s.NumBadEpochs, s.Best)
	}
}

func TestPlateauEpsBlocksTinyReductions(t *testing.T) {
	s := NewPlateau(DefaultPlateau())
	opt := &Adam{LR: 1e-10}
	for range 12 {
		s.Step(1, opt)
	}
	// 1e-10 − 1e-11 is below eps = 1e-10, so PyTorch keeps the rate.
	if opt.LR != 1e-10 {
		t.Fatalf("lr %v, want unchanged 1e-10", opt.LR)
	}
}

func TestNewOptimizersSkipsEmptyGroups(t *testing.T) {
	params := []*nn.Param{
		{Key: "p", Group: nn.GroupPool, Data: []float32{1}, Grad: []float32{0}},
		{Key: "a", Group: nn.GroupNeuronA, Data: []float32{1}, Grad: []float32{0}},
	}
	opt, err := NewOptimizers(params, [nn.NumGroups]float64{0.01, 0.001, 0.001, 0.002}, DefaultAdam(), DefaultPlateau())
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.Groups) != 2 || opt.Groups[0] != nn.GroupNeuronA || opt.Groups[1] != nn.GroupPool {
		t.Fatalf("groups %v", opt.Groups)
	}
	if opt.Adams[1].LR != 0.002 {
		t.Fatalf("pool lr %v", opt.Adams[1].LR)
	}
}
