package train

import (
	"fmt"
	"math"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
)

// AdamConfig holds torch.optim.Adam's hyper-parameters (the official code
// keeps PyTorch's defaults, spec §3.3 and §6 item 23).
type AdamConfig struct {
	Beta1, Beta2 float64
	Eps          float64
}

// DefaultAdam is torch.optim.Adam's default configuration.
func DefaultAdam() AdamConfig { return AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// Adam is one torch.optim.Adam over one parameter group, with float32 moments
// and PyTorch's single-tensor update order (spec §3.3):
//
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g·g
//	p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + eps)
type Adam struct {
	Params []*nn.Param
	LR     float64 // changed by the scheduler; a Python float in the official code
	Step   int     // completed steps (PyTorch's per-parameter "step", equal for all)
	Cfg    AdamConfig
	M, V   [][]float32 // exp_avg and exp_avg_sq per parameter
}

// NewAdam creates an optimiser with zero moments for params.
func NewAdam(params []*nn.Param, lr float64, cfg AdamConfig) *Adam {
	a := &Adam{Params: params, LR: lr, Cfg: cfg}
	for _, p := range params {
		a.M = append(a.M, make([]float32, len(p.Data)))
		a.V = append(a.V, make([]float32, len(p.Data)))
	}
	return a
}

// Update applies one step with the gradients in each Param.Grad.
func (a *Adam) Update() {
	a.Step++
	t := float64(a.Step)
	// PyTorch computes these scalars in double and rounds them to float32 where
	// they meet a float32 tensor.
	bc1 := 1 - math.Pow(a.Cfg.Beta1, t)
	bc2Sqrt := math.Sqrt(1 - math.Pow(a.Cfg.Beta2, t))
	sc := kernels.AdamScalars{
		B1: float32(a.Cfg.Beta1), OmB1: float32(1 - a.Cfg.Beta1),
		B2: float32(a.Cfg.Beta2), OmB2: float32(1 - a.Cfg.Beta2),
		Bc2: float32(bc2Sqrt), Eps: float32(a.Cfg.Eps), NegStep: float32(-(a.LR / bc1)),
	}
	for i, p := range a.Params {
		kernels.AdamUpdate(p.Data, p.Grad, a.M[i], a.V[i], &sc)
	}
}

// PlateauConfig holds torch.optim.lr_scheduler.ReduceLROnPlateau's settings
// (mode "min", threshold_mode "rel").
type PlateauConfig struct {
	Factor    float64
	Patience  int
	Threshold float64
	Cooldown  int
	MinLR     float64
	Eps       float64
}

// DefaultPlateau is the official scheduler set-up: PyTorch's defaults except eps = 1e-10.
func DefaultPlateau() PlateauConfig {
	return PlateauConfig{Factor: 0.1, Patience: 10, Threshold: 1e-4, Cooldown: 0, MinLR: 0, Eps: 1e-10}
}

// Plateau is ReduceLROnPlateau for one optimiser.
type Plateau struct {
	Cfg             PlateauConfig
	Best            float64
	NumBadEpochs    int
	CooldownCounter int
	LastEpoch       int
}

// NewPlateau returns a scheduler in PyTorch's initial state (best = +∞).
func NewPlateau(cfg PlateauConfig) *Plateau {
	return &Plateau{Cfg: cfg, Best: math.Inf(1)}
}

// Step records one epoch's metric and lowers opt.LR when it has not improved
// for more than Patience epochs. It reports whether the rate was lowered.
func (s *Plateau) Step(metric float64, opt *Adam) bool {
	s.LastEpoch++
	if metric < s.Best*(1-s.Cfg.Threshold) {
		s.Best = metric
		s.NumBadEpochs = 0
	} else {
		s.NumBadEpochs++
	}
	if s.CooldownCounter > 0 {
		s.CooldownCounter--
		s.NumBadEpochs = 0
	}
	if s.NumBadEpochs <= s.Cfg.Patience {
		return false
	}
	s.CooldownCounter = s.Cfg.Cooldown
	s.NumBadEpochs = 0
	newLR := max(opt.LR*s.Cfg.Factor, s.Cfg.MinLR)
	if opt.LR-newLR > s.Cfg.Eps {
		opt.LR = newLR
		return true
	}
	return false
}

// ShouldStop is the official stop rule (spec §3.3, §6 item 9): the learning
// rates go through a float32 tensor before their maximum is compared with the
// limit, so 0.01·0.1⁷ (9.9999997e-10 in float32) already stops training.
func ShouldStop(lrs []float64, limit float64) bool {
	if len(lrs) == 0 {
		return false
	}
	m := float32(lrs[0])
	for _, lr := range lrs[1:] {
		m = max(m, float32(lr))
	}
	return float64(m) < limit
}

// Optimizers is the official optimiser set: one Adam and one scheduler per
// non-empty parameter group, in group order.
type Optimizers struct {
	Groups     []nn.Group
	Adams      []*Adam
	Schedulers []*Plateau
}

// NewOptimizers groups the network's parameters and creates one Adam and one
// scheduler per non-empty group with that group's initial learning rate.
func NewOptimizers(params []*nn.Param, lrs [nn.NumGroups]float64, adam AdamConfig, plateau PlateauConfig) (*Optimizers, error) {
	var byGroup [nn.NumGroups][]*nn.Param
	for _, p := range params {
		if p.Group < 0 || p.Group >= nn.NumGroups {
			return nil, fmt.Errorf("train: parameter %s has unknown group %d", p.Key, int(p.Group))
		}
		byGroup[p.Group] = append(byGroup[p.Group], p)
	}
	o := &Optimizers{}
	for g, ps := range byGroup {
		if len(ps) == 0 {
			continue
		}
		if !(lrs[g] > 0) {
			return nil, fmt.Errorf("train: learning rate of group %q must be positive, got %g", nn.Group(g), lrs[g])
		}
		o.Groups = append(o.Groups, nn.Group(g))
		o.Adams = append(o.Adams, NewAdam(ps, lrs[g], adam))
		o.Schedulers = append(o.Schedulers, NewPlateau(plateau))
	}
	return o, nil
}

// Step updates every group with its gradients.
func (o *Optimizers) Step() {
	for _, a := range o.Adams {
		a.Update()
	}
}

// EpochEnd steps every scheduler with the epoch's summed training loss.
func (o *Optimizers) EpochEnd(trainLoss float64) {
	for i, s := range o.Schedulers {
		s.Step(trainLoss, o.Adams[i])
	}
}

// LRs returns the current learning rate of every group, in group order.
func (o *Optimizers) LRs() []float64 {
	lrs := make([]float64, len(o.Adams))
	for i, a := range o.Adams {
		lrs[i] = a.LR
	}
	return lrs
}
