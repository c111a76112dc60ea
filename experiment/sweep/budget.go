package sweep

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

// PaperEpochs is the paper protocol's epoch cap (spec §3.3).
const PaperEpochs = 500

// Budget is how much training a study does per run, against the paper's
// protocol (500 epochs of the full data set).
type Budget struct {
	Epochs     int  `json:"epochs"`      // the largest epoch cap of the runs
	LimitTrain int  `json:"limit_train"` // training images per epoch (0 = all)
	LimitTest  int  `json:"limit_test"`  // test images (0 = all)
	Seeds      int  `json:"seeds"`       // runs per group
	Reduced    bool `json:"reduced"`     // below the paper's protocol
	// Label is carried into status and collect output, e.g.
	// "reduced budget: 10,000 images × 3 epochs × 2 seeds".
	Label string `json:"label"`
}

// budgetOf derives the budget of a plan's entries.
func budgetOf(entries []Entry, seeds int) Budget {
	b := Budget{Seeds: seeds}
	uniformEpochs := true
	for i, e := range entries {
		o := e.Options
		if i > 0 && o.Epochs != b.Epochs {
			uniformEpochs = false
		}
		b.Epochs = max(b.Epochs, o.Epochs)
		// the largest limit, but "all" (0) wins
		if i == 0 || (b.LimitTrain != 0 && (o.LimitTrain == 0 || o.LimitTrain > b.LimitTrain)) {
			b.LimitTrain = o.LimitTrain
		}
		if i == 0 || (b.LimitTest != 0 && (o.LimitTest == 0 || o.LimitTest > b.LimitTest)) {
			b.LimitTest = o.LimitTest
		}
	}
	b.Reduced = b.Epochs < PaperEpochs || b.LimitTrain > 0 || b.LimitTest > 0
	b.Label = budgetLabel(b, uniformEpochs)
	return b
}

func budgetLabel(b Budget, uniformEpochs bool) string {
	images := "full data"
	if b.LimitTrain > 0 {
		images = groupDigits(b.LimitTrain) + " images"
	}
	epochs := plural(b.Epochs, "epoch")
	if !uniformEpochs {
		epochs = "≤ " + epochs
	}
	s := fmt.Sprintf("%s × %s × %s", images, epochs, plural(b.Seeds, "seed"))
	if b.LimitTest > 0 {
		s += fmt.Sprintf(", tested on %s images", groupDigits(b.LimitTest))
	}
	if b.Reduced {
		return "reduced budget: " + s
	}
	return "paper protocol: " + s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return groupDigits(n) + " " + word + "s"
}

// groupDigits formats 10000 as 10,000.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// BudgetFlags are the budget and placement choices of the built-in specs.
type BudgetFlags struct {
	Epochs     int    // epoch cap (default PaperEpochs)
	LimitTrain int    // 0 = all training images
	LimitTest  int    // 0 = all test images
	Seeds      int    // runs per network (seeds 21, 22, …; 21 is the official seed)
	Threads    int    // threads per run (default 1)
	DataDir    string // recorded in every entry ("" = $DEEPNMF_DATA or the cache)
}

// PaperModels are the four networks of the paper's accuracy table (spec §4.1).
var PaperModels = []string{"cnn", "cnmf", "cnn_1x1", "cnmf_1x1"}

// PaperSpec is the built-in spec "paper": the four networks of the accuracy
// table on CIFAR-10 with the paper's protocol, under the budget f (default
// 5 seeds, 500 epochs, full data).
func PaperSpec(f BudgetFlags) (*Spec, error) {
	if f.Seeds == 0 {
		f.Seeds = 5
	}
	return builtinSpec("paper", PaperModels, nil, f)
}

// BalanceSpec is the built-in spec "balance": every member of the
// parameter-balance family on CIFAR-10 with the paper's protocol, under the
// budget f (default 3 seeds, 500 epochs, full data).
func BalanceSpec(f BudgetFlags) (*Spec, error) {
	if f.Seeds == 0 {
		f.Seeds = 3
	}
	fam, err := BalanceFamily()
	if err != nil {
		return nil, err
	}
	var models []string
	configs := map[string]*Member{}
	for i := range fam {
		m := &fam[i]
		if m.Name == "cnmf_1x1" {
			models = append(models, m.Name) // the preset itself
			continue
		}
		models = append(models, m.Name)
		configs[m.Name] = m
	}
	return builtinSpec("balance", models, configs, f)
}

func builtinSpec(name string, models []string, members map[string]*Member, f BudgetFlags) (*Spec, error) {
	if f.Epochs == 0 {
		f.Epochs = PaperEpochs
	}
	if f.Threads == 0 {
		f.Threads = 1
	}
	switch {
	case f.Epochs < 1:
		return nil, fmt.Errorf("%s: --epochs must be at least 1, got %d", name, f.Epochs)
	case f.Seeds < 1:
		return nil, fmt.Errorf("%s: --seeds must be at least 1, got %d", name, f.Seeds)
	case f.LimitTrain < 0 || f.LimitTest < 0:
		return nil, fmt.Errorf("%s: --limit-train and --limit-test must not be negative", name)
	case f.Threads < 1:
		return nil, fmt.Errorf("%s: --threads must be at least 1, got %d", name, f.Threads)
	}
	s := &Spec{Source: name, Models: models, Fixed: map[string]json.RawMessage{}, Axes: map[string][]json.RawMessage{}, configs: map[string]*nn.Config{}}
	def := train.DefaultOptions().Seed
	for i := range f.Seeds {
		s.Seeds = append(s.Seeds, def+uint64(i))
	}
	for k, v := range map[string]any{"dataset": "cifar10", "epochs": f.Epochs, "limit_train": f.LimitTrain, "limit_test": f.LimitTest, "threads": f.Threads} {
		raw, _ := json.Marshal(v)
		s.Fixed[k] = raw
	}
	if f.DataDir != "" {
		raw, _ := json.Marshal(f.DataDir)
		s.Fixed["data_dir"] = raw
	}
	for n, m := range members {
		cfg, err := m.Config()
		if err != nil {
			return nil, err
		}
		s.configs[n] = cfg
	}
	return s, nil
}
