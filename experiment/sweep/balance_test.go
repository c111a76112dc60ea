package sweep

import (
	"math"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// Every member's claimed counts and share must be what nn.Build makes of its
// config on the CIFAR-10 input.
func TestBalanceFamilyCountsMatchBuiltNetworks(t *testing.T) {
	fam, err := BalanceFamily()
	if err != nil {
		t.Fatal(err)
	}
	if len(fam) != len(BalanceTargets)+1 {
		t.Fatalf("%d members, want %d", len(fam), len(BalanceTargets)+1)
	}
	for i, m := range fam {
		cfg, err := m.Config()
		if err != nil {
			t.Fatal(err)
		}
		net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{}, 1)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		total, per := net.ParamCount()
		net.Close()
		if total != m.Total || per[nn.GroupNeuronA] != m.NeuronA || per[nn.GroupNeuronB] != m.NeuronB || per[nn.GroupBatchNorm] != m.BatchNorm {
			t.Errorf("%s: claims a=%d b=%d bn=%d total=%d, built a=%d b=%d bn=%d total=%d", m.Name,
				m.NeuronA, m.NeuronB, m.BatchNorm, m.Total, per[nn.GroupNeuronA], per[nn.GroupNeuronB], per[nn.GroupBatchNorm], total)
		}
		share := float64(per[nn.GroupNeuronB]) / float64(per[nn.GroupNeuronA]+per[nn.GroupNeuronB])
		if share != m.Share {
			t.Errorf("%s: claims share %v, built %v", m.Name, m.Share, share)
		}
		if dev := math.Abs(float64(total-BalanceTotal)) / BalanceTotal; dev > BalanceTolerance {
			t.Errorf("%s: total %d is %.2f %% from %d", m.Name, total, dev*100, BalanceTotal)
		}
		if m.Target > 0 && math.Abs(share-m.Target) > shareTolerance {
			t.Errorf("%s: share %.4f, target %.2f", m.Name, share, m.Target)
		}
		for b := range 4 {
			if m.NB[b] > m.NA[b] {
				t.Errorf("%s: block %d has n_b %d > n_a %d, outside the official identity init", m.Name, b+1, m.NB[b], m.NA[b])
			}
		}
		if i > 0 && fam[i-1].Share >= m.Share {
			t.Errorf("members not in increasing share: %s %.4f then %s %.4f", fam[i-1].Name, fam[i-1].Share, m.Name, m.Share)
		}
	}
	if fam[0].Share > 0.06 || fam[len(fam)-1].Share < 0.58 {
		t.Errorf("shares span %.3f…%.3f, want ≈0.05…0.60", fam[0].Share, fam[len(fam)-1].Share)
	}
	// cnmf_1x1 itself is in the family with its published counts (spec §2.3).
	found := false
	for _, m := range fam {
		if m.Name == "cnmf_1x1" {
			found = m.Total == 167886 && m.NeuronB == 14638
		}
	}
	if !found {
		t.Error("cnmf_1x1 (167,886 parameters, 14,638 in the 1×1 layers) is not in the family")
	}
}

// The b-slot 1×1 convolution with n_b ≠ n_a: output channel k < min(n_a,
// n_b) starts as input channel k, every other weight and every bias within
// 5e-5 of zero (the package doc).
func TestBalanceInit(t *testing.T) {
	for _, tc := range []struct{ na, nb int }{{12, 7}, {9, 9}} {
		cfg, err := nn.Preset("cnmf_1x1")
		if err != nil {
			t.Fatal(err)
		}
		cfg.NumberOfNeuronsA = []int{tc.na, 8, 8, 10}
		cfg.NumberOfNeuronsB = []int{tc.nb, 8, 8, 10}
		net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{}, 5)
		if err != nil {
			t.Fatalf("n_a %d n_b %d: %v", tc.na, tc.nb, err)
		}
		var w, bias *nn.Param
		for _, p := range net.Params() {
			if p.Group == nn.GroupNeuronB && w == nil && len(p.Shape) == 4 {
				w = p
			}
			if p.Group == nn.GroupNeuronB && bias == nil && len(p.Shape) == 1 {
				bias = p
			}
		}
		net.Close()
		if w == nil || bias == nil || w.Shape[0] != tc.nb || w.Shape[1] != tc.na {
			t.Fatalf("n_a %d n_b %d: block 1's 1×1 weight not found or shaped %v", tc.na, tc.nb, w.Shape)
		}
		nonzeroNoise := false
		for k := range tc.nb {
			for j := range tc.na {
				v := float64(w.Data[k*tc.na+j])
				want := 0.0
				if k == j {
					want = 1
				}
				if math.Abs(v-want) > 5e-5 {
					t.Errorf("n_a %d n_b %d: weight[%d][%d] = %g, want %g ± 5e-5", tc.na, tc.nb, k, j, v, want)
				}
				nonzeroNoise = nonzeroNoise || (v != want)
			}
			if math.Abs(float64(bias.Data[k])) > 5e-5 {
				t.Errorf("bias[%d] = %g", k, bias.Data[k])
			}
		}
		if !nonzeroNoise {
			t.Errorf("n_a %d n_b %d: no U(±5e-5) noise on the weights", tc.na, tc.nb)
		}
	}
	// n_b > n_a has no identity init; the official code fails, and so does nn.
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumberOfNeuronsA = []int{7, 8, 8, 10}
	cfg.NumberOfNeuronsB = []int{12, 8, 8, 10}
	if net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{}, 5); err == nil {
		net.Close()
		t.Error("n_a 7 n_b 12 built; want the official refusal")
	}
}
