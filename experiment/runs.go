package experiment

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

// Epoch is one row of a run's metrics.csv, read by column name so that the
// per-group learning-rate columns (lr_<group>) may vary between networks.
type Epoch struct {
	Epoch        int
	TrainLoss    float64 // per image
	TrainAcc     float64 // percent
	TestAcc      float64 // percent
	LRMax        float64
	TrainSeconds float64
	TestSeconds  float64
	Params       int
	LRs          []float64 // one per LRNames entry of the run
}

// Run is a run directory as the studies and the report read it.
type Run struct {
	Dir     string
	Label   string // the directory's base name
	Model   string // preset or config base name: runs are grouped by it
	Options train.Options
	LRNames []string // the lr_<group> columns of metrics.csv, without "lr_"
	Epochs  []Epoch
}

// LoadRun reads RUN_DIR/run.json and RUN_DIR/metrics.csv.
func LoadRun(dir string) (*Run, error) {
	info, err := train.LoadRunInfo(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Label: filepath.Base(filepath.Clean(dir)), Model: info.Options.ModelName(), Options: info.Options}
	if err := r.readMetrics(filepath.Join(dir, train.MetricsFile)); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Run) readMetrics(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s: empty (no header)", path)
	}
	col := map[string]int{}
	var lrCols []int
	for i, name := range recs[0] {
		col[name] = i
		if strings.HasPrefix(name, "lr_") && name != "lr_max" {
			lrCols = append(lrCols, i)
			r.LRNames = append(r.LRNames, strings.TrimPrefix(name, "lr_"))
		}
	}
	for _, need := range []string{"epoch", "train_loss_per_image", "train_acc", "test_acc", "lr_max", "train_s", "test_s", "params"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s: no column %q", path, need)
		}
	}
	for line, rec := range recs[1:] {
		num := func(name string) float64 {
			if err != nil {
				return 0
			}
			var v float64
			v, err = strconv.ParseFloat(rec[col[name]], 64)
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = fmt.Errorf("not finite")
			}
			if err != nil {
				err = fmt.Errorf("%s line %d, column %s: %w", path, line+2, name, err)
			}
			return v
		}
		e := Epoch{
			Epoch: int(num("epoch")), TrainLoss: num("train_loss_per_image"), TrainAcc: num("train_acc"),
			TestAcc: num("test_acc"), LRMax: num("lr_max"), TrainSeconds: num("train_s"), TestSeconds: num("test_s"),
			Params: int(num("params")),
		}
		for _, c := range lrCols {
			name := recs[0][c]
			e.LRs = append(e.LRs, num(name))
		}
		if err != nil {
			return err
		}
		r.Epochs = append(r.Epochs, e)
	}
	if len(r.Epochs) == 0 {
		return fmt.Errorf("%s: no epoch finished yet", path)
	}
	return nil
}

// Final is the last epoch's row.
func (r *Run) Final() Epoch { return r.Epochs[len(r.Epochs)-1] }

// Best is the row with the highest test accuracy (the first of equals).
func (r *Run) Best() Epoch {
	b := r.Epochs[0]
	for _, e := range r.Epochs[1:] {
		if e.TestAcc > b.TestAcc {
			b = e
		}
	}
	return b
}

// WallSeconds is the run's training plus testing time over all epochs.
func (r *Run) WallSeconds() float64 {
	var s float64
	for _, e := range r.Epochs {
		s += e.TrainSeconds + e.TestSeconds
	}
	return s
}

// paperEpochs is the official epoch budget (spec §3.3).
const paperEpochs = 500

// lrLimit is the official stop rule's limit (spec §3.3).
const lrLimit = 1e-9

// Budget says what a run was trained on against the paper's protocol.
type Budget struct {
	TrainImages int  // per epoch
	TestImages  int  // per evaluation
	Epochs      int  // epochs trained
	FullTrain   int  // the dataset's training split
	FullTest    int  // the dataset's test split
	Stopped     bool // ended by the learning-rate stop rule
}

// Reduced tells whether the run is smaller than the paper's protocol: fewer
// images, or fewer than 500 epochs without the stop rule having ended it.
func (b Budget) Reduced() bool {
	return b.TrainImages < b.FullTrain || b.TestImages < b.FullTest || (b.Epochs < paperEpochs && !b.Stopped)
}

// RunBudget computes a run's budget from its options and metrics.
func (r *Run) RunBudget() (Budget, error) {
	info, err := data.Lookup(r.Options.Dataset)
	if err != nil {
		return Budget{}, fmt.Errorf("%s: %w", r.Dir, err)
	}
	b := Budget{FullTrain: sumInts(info.TrainPerClass), FullTest: sumInts(info.TestPerClass), Epochs: len(r.Epochs)}
	b.TrainImages, b.TestImages = b.FullTrain, b.FullTest
	if l := r.Options.LimitTrain; l > 0 && l < b.FullTrain {
		b.TrainImages = l
	}
	if l := r.Options.LimitTest; l > 0 && l < b.FullTest {
		b.TestImages = l
	}
	// The official rule compares the largest lr, rounded to float32, with 1e-9.
	b.Stopped = float64(float32(r.Final().LRMax)) < lrLimit
	return b, nil
}

func sumInts(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

// groupDigits writes n with thousands separators: 10000 → "10,000".
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// BudgetLabel describes the budget of a group of runs, e.g.
// "reduced budget: 10,000 images × 3 epochs × 2 seeds" or
// "paper protocol: 50,000 images × up to 500 epochs × 3 seeds". Runs with
// different budgets list each distinct budget.
func BudgetLabel(runs []*Run) (string, error) {
	type key struct{ train, test, fullTest, epochs int }
	count := map[key]int{}
	var order []key
	reduced := false
	for _, r := range runs {
		b, err := r.RunBudget()
		if err != nil {
			return "", err
		}
		reduced = reduced || b.Reduced()
		k := key{b.TrainImages, b.TestImages, b.FullTest, b.Epochs}
		if !b.Reduced() {
			k.epochs = -1 // a full run: up to 500 epochs, however many the stop rule left
		}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	var parts []string
	for _, k := range order {
		epochs := fmt.Sprintf("%d epoch%s", k.epochs, plural(k.epochs))
		if k.epochs < 0 {
			epochs = fmt.Sprintf("up to %d epochs", paperEpochs)
		}
		s := fmt.Sprintf("%s images × %s × %d seed%s", groupDigits(k.train), epochs, count[k], plural(count[k]))
		if k.test < k.fullTest {
			s += fmt.Sprintf(", tested on %s images", groupDigits(k.test))
		}
		parts = append(parts, s)
	}
	prefix := "paper protocol: "
	if reduced {
		prefix = "reduced budget: "
	}
	return prefix + strings.Join(parts, "; "), nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
