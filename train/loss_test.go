package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refLoss64 is an independent float64 transcription of spec §3.2.
func refLoss64(mode LossMode, p []float64, labels []int, classes int) float64 {
	switch mode {
	case LossMSEKL:
		var mse, kl float64
		for c := 0; c < classes; c++ {
			var sm, sk float64
			for b, l := range labels {
				y := 0.0
				if l == c {
					y = 1
				}
				d := p[b*classes+c] - y
				sm += d * d
				sk += y * math.Log((y+1e-20)/(p[b*classes+c]+1e-20))
			}
			mse += sm
			kl += sk
		}
		return (0.5*mse/float64(classes) + 1.0*kl/float64(classes)) / 1.5
	default:
		var s float64
		for b, l := range labels {
			var z float64
			for c := 0; c < classes; c++ {
				z += math.Exp(p[b*classes+c])
			}
			s += -(p[b*classes+l] - math.Log(z))
		}
		return s / float64(len(labels))
	}
}

func randomProbs(r *rand.Rand, batch, classes int) ([]float32, []int) {
	probs := make([]float32, batch*classes)
	labels := make([]int, batch)
	for b := range batch {
		var s float64
		row := make([]float64, classes)
		for c := range row {
			row[c] = math.Exp(3 * r.NormFloat64())
			s += row[c]
		}
		for c := range row {
			probs[b*classes+c] = float32(row[c] / s)
		}
		labels[b] = r.IntN(classes)
	}
	return probs, labels
}

func TestLossValueAndGradient(t *testing.T) {
	const batch, classes = 7, 10
	r := rand.New(rand.NewPCG(1, 2))
	for _, mode := range []LossMode{LossMSEKL, LossCrossEntropy} {
		probs, labels := randomProbs(r, batch, classes)
		grad := make([]float32, len(probs))
		got, err := Loss(mode, probs, labels, classes, grad)
		if err != nil {
			t.Fatal(err)
		}
		p64 := make([]float64, len(probs))
		for i, p := range probs {
			p64[i] = float64(p)
		}
		want := refLoss64(mode, p64, labels, classes)
		if math.Abs(float64(got)-want) > 1e-6*math.Abs(want) {
			t.Errorf("mode %d: loss %v, float64 reference %v", mode, got, want)
		}
		// Central differences on the float64 reference.
		for i := range p64 {
			h := 1e-6 * max(p64[i], 1e-3)
			save := p64[i]
			p64[i] = save + h
			up := refLoss64(mode, p64, labels, classes)
			p64[i] = save - h
			down := refLoss64(mode, p64, labels, classes)
			p64[i] = save
			fd := (up - down) / (2 * h)
			if math.Abs(float64(grad[i])-fd) > 1e-4*math.Abs(fd)+1e-6 {
				t.Errorf("mode %d: grad[%d] = %v, finite difference %v", mode, i, grad[i], fd)
			}
		}
	}
}

func TestLossMSEKLUnderflowedProbability(t *testing.T) {
	// A zero probability for the label must give a finite loss: the guard
	// makes the ratio 1e20 in float32.
	probs := []float32{0, 1}
	grad := make([]float32, 2)
	got, err := Loss(LossMSEKL, probs, []int{0}, 2, grad)
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64((1 + klGuard) / (0 + klGuard))
	want := (0.5*(1+1)/2 + math.Log(ratio)/2) / 1.5
	if math.IsInf(float64(got), 0) || math.Abs(float64(got)-want) > 1e-5*want {
		t.Fatalf("loss %v, want %v", got, want)
	}
}

func TestLossRejectsBadInput(t *testing.T) {
	grad := make([]float32, 4)
	if _, err := Loss(LossMSEKL, make([]float32, 4), []int{0, 2}, 2, grad); err == nil {
		t.Error("label out of range accepted")
	}
	if _, err := Loss(LossMSEKL, make([]float32, 3), []int{0, 1}, 2, grad); err == nil {
		t.Error("wrong probability count accepted")
	}
	if _, err := Loss(LossMode(7), make([]float32, 4), []int{0, 1}, 2, grad); err == nil {
		t.Error("unknown mode accepted")
	}
}
