package train

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/nn"
)

func TestMetricsHeaderMatchesReference(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "reference", "cnmf_1x1_seed21.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatal("empty reference CSV")
	}
	ref := strings.Split(strings.TrimSpace(sc.Text()), ",")
	groups := []nn.Group{nn.GroupNeuronA, nn.GroupNeuronB, nn.GroupBatchNorm}
	got := MetricsHeader(groups)
	if strings.Join(got[:len(ref)], ",") != strings.Join(ref, ",") {
		t.Fatalf("header %v does not start with the reference columns %v", got, ref)
	}
	if want := "lr_neuron_a,lr_neuron_b,lr_batchnorm2d"; strings.Join(got[len(ref):], ",") != want {
		t.Fatalf("learning-rate columns %v, want %s", got[len(ref):], want)
	}
	row := MetricsRow(Metrics{Epoch: 0, TrainLossSum: 7387.2, TrainLossPerImage: 7387.2 / 50000, TrainCorrect: 21891,
		TrainImages: 50000, TestCorrect: 5411, TestImages: 10000, LRs: []float64{0.01, 0.001, 0.001},
		TrainSeconds: 1829.481, TestSeconds: 128.906, Params: 167886})
	if len(row) != len(got) {
		t.Fatalf("row has %d fields, header %d", len(row), len(got))
	}
	// The reference writes percentages and rates like Python's repr.
	for i, want := range map[int]string{2: "43.782", 3: "54.11", 4: "0.01", 5: "1829.48", 6: "128.91", 7: "167886"} {
		if row[i] != want {
			t.Errorf("column %s = %q, want %q", got[i], row[i], want)
		}
	}
}
