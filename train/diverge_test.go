package train

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

// trainTiny trains the tiny synthetic run with opts and returns the summary,
// the log and the error.
func trainTiny(t *testing.T, opts Options) (Summary, string, error) {
	t.Helper()
	opts.Data = syntheticCIFAR(t, 150, 100)
	s, err := Start(opts, filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var log bytes.Buffer
	sum, err := s.Train(context.Background(), &log, nil)
	t.Logf("%s", log.String())
	return sum, log.String(), err
}

// Issue 16: --lr-a 1e30 trained to chance accuracy with exit 0 and no warning.
func TestChanceAccuracyAfterAnAbsurdLearningRateWarns(t *testing.T) {
	opts := tinyOptions(ChanceEpochs)
	opts.LR[nn.GroupNeuronA] = 1e30
	sum, log, err := trainTiny(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "test accuracy at chance level (at most 11.0 % for 10 classes) in epochs 1 to 3: training has diverged; " +
		"the learning rates differ from the official ones (--lr-a 1e+30 (default 0.01)): try the defaults or lower rates"
	if sum.Warning != want {
		t.Errorf("summary warning %q, want %q", sum.Warning, want)
	}
	if strings.Count(log, "warning: ") != 1 || !strings.Contains(log, "warning: "+want+"\n") {
		t.Errorf("the log does not hold the warning once:\n%s", log)
	}
}

// A run that learns gets no warning.
func TestNoWarningWhenLearning(t *testing.T) {
	sum, log, err := trainTiny(t, tinyOptions(ChanceEpochs))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Warning != "" || strings.Contains(log, "warning") || sum.FinalTestAcc <= 11 {
		t.Errorf("run at %.1f %% warned %q:\n%s", sum.FinalTestAcc, sum.Warning, log)
	}
}

// A non-finite value stops the run with an error that says where (epoch,
// batch, layer or parameter) and suggests lower learning rates.
func TestNonFiniteErrorSuggestsLowerLearningRates(t *testing.T) {
	opts := tinyOptions(1)
	for g := range opts.LR {
		opts.LR[g] = 3e38 // the first steps overflow float32
	}
	_, _, err := trainTiny(t, opts)
	if !errors.Is(err, ErrNotFinite) {
		t.Fatalf("training at lr 3e38: %v, want ErrNotFinite", err)
	}
	t.Log(err)
	for _, want := range []string{"epoch 1 batch ", "parameter ", "training diverged: try lower learning rates",
		"--lr-a 3e+38 (default 0.01), --lr-b 3e+38 (default 0.001)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
