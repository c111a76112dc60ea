package train

import (
	"fmt"
	"math"
	"strconv"

	"github.com/deepnmf/deepnmf/nn"
)

// validate checks a decoded state.json for what a hand edit or a corrupt
// file can break and the engine would otherwise take as it is: the epoch
// counter against the history and the schedulers, learning rates, Adam step
// counts. Errors name the file (path) and the JSON field.
//
// The epoch is not checked against the epoch cap: a resume with a lower
// --epochs legitimately finds more epochs done than the cap ("nothing to
// do"). An absurd epoch (1e9) fails the history check instead, since every
// epoch run leaves one history row.
func (s *checkpointState) validate(path string) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: field %q: %s", path, field, fmt.Sprintf(format, args...))
	}
	if s.Epoch < 0 {
		return bad("epoch", "%d is negative", s.Epoch)
	}
	if len(s.History) != s.Epoch {
		return bad("history", "%d rows, but epoch says %d epochs are done (one row per epoch)", len(s.History), s.Epoch)
	}
	if s.Streams.NextEpoch != s.Epoch {
		return bad("streams.next_epoch", "%d, but epoch is %d", s.Streams.NextEpoch, s.Epoch)
	}
	if s.Streams.NextBatch < 0 {
		return bad("streams.next_batch", "%d is negative", s.Streams.NextBatch)
	}
	for i, m := range s.History {
		f := func(name string) string { return "history[" + strconv.Itoa(i) + "]." + name }
		if m.Epoch != i {
			// Rows are epochs 0, 1, 2, ... in order: a duplicate, a gap or a
			// reordering all show here.
			return bad(f("epoch"), "%d, want %d (rows must be the epochs 0…%d in order, once each)", m.Epoch, i, s.Epoch-1)
		}
		if len(m.LRs) != len(s.Optimizers) {
			return bad(f("lrs"), "%d learning rates for %d optimisers", len(m.LRs), len(s.Optimizers))
		}
		for j, lr := range m.LRs {
			if !(lr > 0) || math.IsInf(lr, 0) {
				return bad(f("lrs")+"["+strconv.Itoa(j)+"]", "%g is not a positive finite learning rate", lr)
			}
		}
		if m.TrainImages < 0 || m.TrainCorrect < 0 || m.TrainCorrect > m.TrainImages {
			return bad(f("train_correct"), "%d of %d images", m.TrainCorrect, m.TrainImages)
		}
		if m.TestImages < 0 || m.TestCorrect < 0 || m.TestCorrect > m.TestImages {
			return bad(f("test_correct"), "%d of %d images", m.TestCorrect, m.TestImages)
		}
		for _, c := range []struct {
			name string
			v    float64
		}{{"train_loss_per_image", m.TrainLossPerImage}, {"train_loss_sum", m.TrainLossSum}, {"train_s", m.TrainSeconds}, {"test_s", m.TestSeconds}} {
			if math.IsNaN(c.v) || math.IsInf(c.v, 0) {
				return bad(f(c.name), "%g is not finite", c.v)
			}
		}
	}
	for i, o := range s.Optimizers {
		f := func(name string) string { return "optimizers[" + strconv.Itoa(i) + "]." + name }
		if !(o.LR > 0) || math.IsInf(o.LR, 0) {
			return bad(f("lr"), "%g is not a positive finite learning rate", o.LR)
		}
		if o.Step < 0 {
			return bad(f("step"), "%d is negative", o.Step)
		}
		best, err := strconv.ParseFloat(o.Scheduler.Best, 64)
		if err != nil || math.IsNaN(best) {
			return bad(f("scheduler.best"), "%q is not a number (+Inf before the first epoch)", o.Scheduler.Best)
		}
		if o.Scheduler.NumBadEpochs < 0 || o.Scheduler.NumBadEpochs > s.Epoch {
			return bad(f("scheduler.num_bad_epochs"), "%d outside [0, epoch %d]", o.Scheduler.NumBadEpochs, s.Epoch)
		}
		if o.Scheduler.CooldownCounter < 0 {
			return bad(f("scheduler.cooldown_counter"), "%d is negative", o.Scheduler.CooldownCounter)
		}
		if o.Scheduler.LastEpoch != s.Epoch {
			// The schedulers step once per epoch.
			return bad(f("scheduler.last_epoch"), "%d, but epoch is %d", o.Scheduler.LastEpoch, s.Epoch)
		}
	}
	return nil
}

// checkMoments refuses Adam moments that would poison the next update: a
// NaN or an infinity anywhere, a negative second moment (its square root is
// taken). Errors name the file and the tensor.
func checkMoments(path string, moments map[string]nn.NamedTensor) error {
	if err := nn.CheckFinite(path, moments); err != nil {
		return fmt.Errorf("optimiser state %w", err)
	}
	for name, t := range moments {
		if len(name) < len(".exp_avg_sq") || name[len(name)-len(".exp_avg_sq"):] != ".exp_avg_sq" {
			continue
		}
		for i, v := range t.Data {
			if v < 0 {
				return fmt.Errorf("optimiser state %s: tensor %q: value %d is %v (a second moment is never negative)", path, name, i, v)
			}
		}
	}
	return nil
}
