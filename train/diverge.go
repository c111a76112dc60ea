package train

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deepnmf/deepnmf/nn"
)

// ChanceEpochs is how many epochs in a row the test accuracy may stay at
// chance level before a run is reported as diverged or not learning.
const ChanceEpochs = 3

// atChance reports whether a test accuracy (a percentage) is no better than
// guessing among classes, with one point of slack for small test sets.
func atChance(acc float64, classes int) bool {
	return classes > 0 && acc <= 100/float64(classes)+1
}

// changedLRs lists the initial learning rates that differ from the official
// ones, as the flags that set them ("--lr-a 1e+30 (default 0.01)").
func changedLRs(lr [nn.NumGroups]float64) []string {
	def := DefaultConfig().LR
	var out []string
	for g := range lr {
		if lr[g] != def[g] {
			out = append(out, fmt.Sprintf("--%s %g (default %g)", strings.ReplaceAll(lrKeys[g], "_", "-"), lr[g], def[g]))
		}
	}
	return out
}

// chanceWarning is the warning for a run whose last ChanceEpochs epochs all
// tested at chance level, or "" for one that is learning.
func chanceWarning(history []Metrics, classes int, lr [nn.NumGroups]float64) string {
	n := len(history)
	if n < ChanceEpochs {
		return ""
	}
	for _, m := range history[n-ChanceEpochs:] {
		if m.TestImages == 0 || !atChance(m.TestAcc(), classes) {
			return ""
		}
	}
	first, last := history[n-ChanceEpochs].Epoch+1, history[n-1].Epoch+1
	msg := fmt.Sprintf("test accuracy at chance level (at most %.1f %% for %d classes) in epochs %d to %d", 100/float64(classes)+1, classes, first, last)
	if changed := changedLRs(lr); len(changed) > 0 {
		return msg + ": training has diverged; the learning rates differ from the official ones (" +
			strings.Join(changed, ", ") + "): try the defaults or lower rates"
	}
	return msg + ": the network is not learning; check the data and the network config, or try lower learning rates"
}

// divergenceHooks print a warning on log once per session when the test
// accuracy has stayed at chance level for ChanceEpochs epochs (counting the
// epochs of a resumed run's history).
func (s *Session) divergenceHooks(log io.Writer) Hooks {
	warned := false
	e := s.Engine
	return Hooks{EpochDone: func(Metrics) {
		if w := chanceWarning(e.History, e.Net.Classes(), e.Cfg.LR); w != "" && !warned {
			warned = true
			fmt.Fprintf(log, "warning: %s\n", w)
		}
	}}
}

// divergedHint adds to a non-finite-value error of a training step what to
// do about it; other errors pass unchanged.
func divergedHint(err error, lr [nn.NumGroups]float64) error {
	if !errors.Is(err, ErrNotFinite) {
		return err
	}
	hint := "training diverged: try lower learning rates"
	if changed := changedLRs(lr); len(changed) > 0 {
		hint += " (these differ from the official ones: " + strings.Join(changed, ", ") + ")"
	}
	return fmt.Errorf("%w (%s)", err, hint)
}
