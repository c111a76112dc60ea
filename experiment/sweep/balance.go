package sweep

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/deepnmf/deepnmf/nn"
)

// BalanceTotal is the parameter count every member of the balance family
// stays near: cnmf_1x1's on CIFAR-10 (spec §2.3).
const BalanceTotal = 167886

// BalanceTolerance is the allowed relative deviation from BalanceTotal (spec §4.3).
const BalanceTolerance = 0.02

// BalanceTargets are the 1×1 shares the family's searched members aim at;
// the family also holds cnmf_1x1 itself (share 8.7 %).
var BalanceTargets = []float64{0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60}

// shareTolerance is how far a searched member's share may be from its target.
const shareTolerance = 0.0025

// Member is one network of the parameter-balance family: cnmf_1x1 with other
// per-block widths. Counts are for the CIFAR-10 input 3×28×28.
type Member struct {
	Name   string  `json:"name"`
	Target float64 `json:"target_share"` // 0 for the reference cnmf_1x1
	NA     [4]int  `json:"number_of_neurons_a"`
	NB     [4]int  `json:"number_of_neurons_b"`
	// NeuronA counts the NNMF (a-slot) weights, NeuronB the 1×1 convolutions
	// with their biases, BatchNorm the γ and β of blocks 1 and 2.
	NeuronA   int     `json:"neuron_a"`
	NeuronB   int     `json:"neuron_b"`
	BatchNorm int     `json:"batchnorm2d"`
	Total     int     `json:"total"`
	Share     float64 `json:"share"` // NeuronB / (NeuronA + NeuronB)
}

// balanceCounts counts the parameters of cnmf_1x1's geometry with widths na,
// nb on a 3×28×28 input. The maps are 24×24 (5×5 patches of 3 channels:
// D = 75), pooled to 12×12, 8×8 (D = 25·nb1), pooled to 4×4, then the
// full-field block (D = 16·nb2) and the 1×1 block (D = nb3), both on 1×1 maps
// and so without BatchNorm.
func balanceCounts(na, nb [4]int) (a, b, bn int) {
	a = 75*na[0] + 25*nb[0]*na[1] + 16*nb[1]*na[2] + nb[2]*na[3]
	for i := range 4 {
		b += (na[i] + 1) * nb[i]
	}
	bn = 2 * (na[0] + nb[0] + na[1] + nb[1])
	return a, b, bn
}

func newMember(name string, target float64, na, nb [4]int) Member {
	a, b, bn := balanceCounts(na, nb)
	return Member{Name: name, Target: target, NA: na, NB: nb, NeuronA: a, NeuronB: b, BatchNorm: bn,
		Total: a + b + bn, Share: float64(b) / float64(a+b)}
}

// BalanceFamily returns the reference cnmf_1x1 and one searched member per
// BalanceTargets entry, in increasing share.
//
// The search keeps cnmf_1x1's blocks 1 and 4 (32 and 10 channels; the last
// block must end with the 10 classes) and looks for integer widths of blocks
// 2 and 3: n_a2, n_b2, n_b3 exhaustively (10 ≤ n_b ≤ n_a, every width at
// least the number of classes), n_a3 near the value that makes the total
// exact. Among the candidates within BalanceTolerance of BalanceTotal whose
// share is within 0.25 points of the target, it takes the one closest to
// cnmf_1x1's widths (smallest Σ ln²(n/n_cnmf_1x1) over the four searched
// widths), then the one closest to the total. n_b ≤ n_a keeps every 1×1
// layer inside the official identity initialisation (see the package doc).
func BalanceFamily() ([]Member, error) {
	familyOnce.Do(func() { family, familyErr = balanceFamily() })
	return slices.Clone(family), familyErr
}

// The search takes a second or two; its result never changes.
var (
	familyOnce sync.Once
	family     []Member
	familyErr  error
)

func balanceFamily() ([]Member, error) {
	ref := newMember("cnmf_1x1", 0, [4]int{32, 64, 96, 10}, [4]int{32, 64, 96, 10})
	out := []Member{}
	for _, target := range BalanceTargets {
		m, err := searchMember(target)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// insert the reference by share
	i := 0
	for i < len(out) && out[i].Share < ref.Share {
		i++
	}
	out = append(out[:i], append([]Member{ref}, out[i:]...)...)
	return out, nil
}

func searchMember(target float64) (Member, error) {
	const minWidth, maxA2, maxB3 = 10, 128, 640
	lo := int(math.Ceil(BalanceTotal * (1 - BalanceTolerance)))
	hi := int(math.Floor(BalanceTotal * (1 + BalanceTolerance)))
	best := Member{}
	bestReg, bestDev := math.Inf(1), math.MaxInt
	found := false
	for na2 := minWidth; na2 <= maxA2; na2++ {
		for nb2 := minWidth; nb2 <= na2; nb2++ {
			for nb3 := minWidth; nb3 <= maxB3; nb3++ {
				na := [4]int{32, na2, 0, 10}
				nb := [4]int{32, nb2, nb3, 10}
				// total is linear in n_a3 with slope 16·nb2 + nb3 + ... ; solve at n_a3 = 0.
				a0, b0, bn0 := balanceCounts(na, nb)
				slope := 16*nb2 + nb3
				center := (BalanceTotal - (a0 + b0 + bn0)) / slope
				for na3 := max(center-2, nb3); na3 <= center+2; na3++ {
					na[2] = na3
					a, b, bn := balanceCounts(na, nb)
					t := a + b + bn
					if t < lo || t > hi {
						continue
					}
					s := float64(b) / float64(a+b)
					if math.Abs(s-target) > shareTolerance {
						continue
					}
					reg := sq(math.Log(float64(na2)/64)) + sq(math.Log(float64(nb2)/64)) +
						sq(math.Log(float64(na3)/96)) + sq(math.Log(float64(nb3)/96))
					dev := abs(t - BalanceTotal)
					if reg < bestReg-1e-12 || (math.Abs(reg-bestReg) <= 1e-12 && dev < bestDev) {
						bestReg, bestDev, found = reg, dev, true
						best = newMember(fmt.Sprintf("balance_s%02d", int(math.Round(target*100))), target, na, nb)
					}
				}
			}
		}
	}
	if !found {
		return Member{}, fmt.Errorf("balance family: no widths give a 1×1 share of %.2f within %.4f at %d ± %.0f %% parameters", target, shareTolerance, BalanceTotal, BalanceTolerance*100)
	}
	return best, nil
}

func sq(x float64) float64 { return x * x }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Config is the member's network: preset cnmf_1x1 with its widths.
func (m Member) Config() (*nn.Config, error) {
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		return nil, err
	}
	cfg.NumberOfNeuronsA = append([]int(nil), m.NA[:]...)
	cfg.NumberOfNeuronsB = append([]int(nil), m.NB[:]...)
	return cfg, nil
}
