package train

import (
	"fmt"
	"math"

	"github.com/deepnmf/deepnmf/kernels"
)

// LossMode selects the official loss function (spec §3.2).
type LossMode int

const (
	// LossMSEKL is the official loss_mode 0: (0.5·MSE + 1.0·KL)/1.5 on the
	// probabilities against one-hot targets, summed over the batch and averaged
	// over the classes.
	LossMSEKL LossMode = 0
	// LossCrossEntropy is the official loss_mode 1: cross-entropy with mean
	// reduction applied to the probabilities as if they were logits (spec §6 item 12).
	LossCrossEntropy LossMode = 1
)

// The official coefficients of loss_mode 0 and its guard constant, a float32 literal.
const (
	mseCoefficient = 0.5
	klCoefficient  = 1.0
	klGuard        = kernels.ReconGuard
)

// Loss computes the loss of one batch and writes ∂loss/∂probs into grad.
//
// probs and grad are batch × classes (row-major); labels holds one class index
// per sample. The value is returned as float32, as PyTorch's loss tensor is, so
// that the epoch sum accumulates exactly what the official loss.item() returns.
// Sums run in float64 to keep them independent of batch size and order.
func Loss(mode LossMode, probs []float32, labels []int, classes int, grad []float32) (float32, error) {
	batch := len(labels)
	if classes < 1 || len(probs) != batch*classes || len(grad) != batch*classes {
		return 0, fmt.Errorf("train: loss: %d labels, %d classes, but %d probabilities and %d gradient slots",
			batch, classes, len(probs), len(grad))
	}
	for b, l := range labels {
		if l < 0 || l >= classes {
			return 0, fmt.Errorf("train: loss: label %d of sample %d is outside [0, %d)", l, b, classes)
		}
	}
	switch mode {
	case LossMSEKL:
		return lossMSEKL(probs, labels, classes, grad), nil
	case LossCrossEntropy:
		return lossCrossEntropy(probs, labels, classes, grad), nil
	}
	return 0, fmt.Errorf("train: unknown loss mode %d (want 0 = MSE+KL or 1 = cross-entropy)", int(mode))
}

func lossMSEKL(probs []float32, labels []int, classes int, grad []float32) float32 {
	const norm = mseCoefficient + klCoefficient
	var mse, kl float64
	// ∂/∂p of 0.5·(p−y)² ·(1/C)/1.5 + 1.0·y·log((y+ε)/(p+ε))·(1/C)/1.5.
	gMSE := float32(2 * mseCoefficient / norm / float64(classes))
	gKL := float32(klCoefficient / norm / float64(classes))
	for b, label := range labels {
		row := probs[b*classes : (b+1)*classes]
		g := grad[b*classes : (b+1)*classes]
		for c, p := range row {
			var y float32
			if c == label {
				y = 1
			}
			d := p - y
			mse += float64(d) * float64(d)
			g[c] = gMSE * d
			if c == label {
				// The official ratio is formed in float32; zero-target terms are
				// exactly zero because y multiplies a finite logarithm.
				ratio := (y + klGuard) / (p + klGuard)
				kl += math.Log(float64(ratio))
				g[c] -= gKL * (y / (p + klGuard))
			}
		}
	}
	mseTerm := mse / float64(classes)
	klTerm := kl / float64(classes)
	return float32((mseCoefficient*mseTerm + klCoefficient*klTerm) / norm)
}

func lossCrossEntropy(probs []float32, labels []int, classes int, grad []float32) float32 {
	batch := len(labels)
	inv := 1 / float64(batch)
	var sum float64
	for b, label := range labels {
		row := probs[b*classes : (b+1)*classes]
		g := grad[b*classes : (b+1)*classes]
		maxv := row[0]
		for _, p := range row[1:] {
			maxv = max(maxv, p)
		}
		var z float64
		for _, p := range row {
			z += math.Exp(float64(p - maxv))
		}
		logZ := math.Log(z) + float64(maxv)
		sum += logZ - float64(row[label])
		for c, p := range row {
			s := math.Exp(float64(p) - logZ)
			if c == label {
				s--
			}
			g[c] = float32(s * inv)
		}
	}
	return float32(sum * inv)
}
