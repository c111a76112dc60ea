package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

// fakeRun writes a run directory by hand: run.json with the options and a
// metrics.csv (through train's own writer) with the given test accuracies
// (correct out of testImages) and losses.
func fakeRun(t *testing.T, dir string, o train.Options, testCorrect []int, testImages int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(train.RunInfo{Options: o})
	if err := os.WriteFile(filepath.Join(dir, "run.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	groups := []nn.Group{nn.GroupNeuronA, nn.GroupNeuronB}
	var hist []train.Metrics
	for e, c := range testCorrect {
		hist = append(hist, train.Metrics{Epoch: e, TrainLossPerImage: 0.2 / float64(e+1), TrainCorrect: 50 + e, TrainImages: 100,
			TestCorrect: c, TestImages: testImages, LRs: []float64{0.01, 0.001 / float64(e+1)}, TrainSeconds: 10.5, TestSeconds: 1.25, Params: 1234})
	}
	if err := train.WriteMetricsCSV(filepath.Join(dir, train.MetricsFile), groups, hist); err != nil {
		t.Fatal(err)
	}
}

func reducedOptions(model string, seed uint64) train.Options {
	o := train.DefaultOptions()
	o.Model, o.Dataset, o.Seed, o.LimitTrain, o.Epochs = model, "mnist", seed, 200, 3
	return o
}

func TestSummarizeGroupsByModel(t *testing.T) {
	root := t.TempDir()
	fakeRun(t, filepath.Join(root, "a1"), reducedOptions("cnmf_1x1", 1), []int{4000, 5200, 5000}, 10000)
	fakeRun(t, filepath.Join(root, "b1"), reducedOptions("cnn", 1), []int{3000}, 10000)
	fakeRun(t, filepath.Join(root, "a2"), reducedOptions("cnmf_1x1", 2), []int{4100, 4900, 5400}, 10000)
	var runs []*Run
	for _, d := range []string{"a1", "b1", "a2"} {
		r, err := LoadRun(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	if got := runs[0].Final(); got.TestAcc != 50 || got.Epoch != 2 || got.LRs[1] != 0.001/3 || got.Params != 1234 {
		t.Fatalf("final row %+v", got)
	}
	if runs[0].Best().Epoch != 1 || runs[0].WallSeconds() != 3*11.75 {
		t.Fatalf("best %+v wall %v", runs[0].Best(), runs[0].WallSeconds())
	}
	s, err := Summarize(runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Model != "cnmf_1x1" || s[0].Runs != 2 || s[1].Model != "cnn" {
		t.Fatalf("%+v", s)
	}
	// final 50 and 54: mean 52, sample std √8; best 52 and 54: mean 53, std √2.
	if s[0].FinalMean != 52 || math.Abs(s[0].FinalStd-math.Sqrt(8)) > 1e-12 || s[0].BestMean != 53 || math.Abs(s[0].BestStd-math.Sqrt2) > 1e-12 {
		t.Fatalf("%+v", s[0])
	}
	if !math.IsNaN(s[1].FinalStd) || pm(s[1].FinalMean, s[1].FinalStd) != "30.00" {
		t.Fatalf("one run: %+v", s[1])
	}
	if want := "reduced budget: 200 images × 3 epochs × 2 seeds"; s[0].Budget != want || !s[0].Reduced {
		t.Fatalf("budget %q, want %q", s[0].Budget, want)
	}
}

func TestBudgetLabel(t *testing.T) {
	root := t.TempDir()
	full := train.DefaultOptions()
	full.Dataset = "mnist"
	// A full-data run that ended by the stop rule long before 500 epochs is the protocol.
	fakeRun(t, filepath.Join(root, "full"), full, []int{9000, 9100}, 10000)
	metrics := filepath.Join(root, "full", train.MetricsFile)
	raw, _ := os.ReadFile(metrics)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	cells := strings.Split(lines[2], ",")
	cells[4] = "1e-10" // lr_max of the last epoch under the stop rule
	lines[2] = strings.Join(cells, ",")
	os.WriteFile(metrics, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	r, err := LoadRun(filepath.Join(root, "full"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := BudgetLabel([]*Run{r}); got != "paper protocol: 60,000 images × up to 500 epochs × 1 seed" {
		t.Fatalf("%q", got)
	}
	// The same run without the stop rule is a reduced one (2 of 500 epochs), and a test limit is said.
	r.Epochs[1].LRMax = 0.01
	r.Options.LimitTest = 1000
	if got, _ := BudgetLabel([]*Run{r}); got != "reduced budget: 60,000 images × 2 epochs × 1 seed, tested on 1,000 images" {
		t.Fatalf("%q", got)
	}
}

func TestLoadRunErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := LoadRun(root); err == nil {
		t.Fatal("a directory without run.json accepted")
	}
	fakeRun(t, root, reducedOptions("cnn", 1), []int{1}, 10)
	os.WriteFile(filepath.Join(root, train.MetricsFile), []byte("epoch,train_loss_per_image,train_acc,test_acc,lr_max,train_s,test_s,params\n0,0.1,x,1,1,1,1,1\n"), 0o644)
	if _, err := LoadRun(root); err == nil || !strings.Contains(err.Error(), "line 2, column train_acc") {
		t.Fatalf("bad number: %v", err)
	}
	os.WriteFile(filepath.Join(root, train.MetricsFile), []byte("epoch,test_acc\n"), 0o644)
	if _, err := LoadRun(root); err == nil || !strings.Contains(err.Error(), "no column") {
		t.Fatalf("missing column: %v", err)
	}
}

// chromium finds Debian's chromium (or another Chromium build); without it
// the test skips, except under CI=true where it must be installed.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// loadInChromium opens the page in headless Chromium, lets it load, and
// returns the DOM afterwards; any console message fails the test (the page
// logs nothing when it works).
func loadInChromium(t *testing.T, page string) string {
	t.Helper()
	exe := chromium(t)
	abs, _ := filepath.Abs(page)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
		"--user-data-dir=" + t.TempDir(), "--dump-dom", "file://" + abs}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console message: %s", line)
		}
	}
	return string(dom)
}

func TestReportInChromium(t *testing.T) {
	root := t.TempDir()
	fakeRun(t, filepath.Join(root, "runA"), reducedOptions("cnmf_1x1", 1), []int{4000, 5200, 5000}, 10000)
	fakeRun(t, filepath.Join(root, "runB"), reducedOptions("cnmf_1x1", 2), []int{4100, 4900, 5437}, 10000)
	fakeRun(t, filepath.Join(root, "runC"), reducedOptions("cnn", 1), []int{3000, 3333}, 10000)

	// Studies, written by their own writers.
	grad := filepath.Join(root, "grad")
	o := DefaultGradStudy()
	o.Iterations, o.DenseRows = []int{1, 20}, 30
	rows, err := GradStudy(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteGradStudy(grad, rows); err != nil {
		t.Fatal(err)
	}
	rob := filepath.Join(root, "rob")
	var rr []RobustnessRow
	for _, n := range []Noise{Uniform, Picture} {
		for k, eta := range Levels(n) {
			rr = append(rr, RobustnessRow{Run: filepath.Join(root, "runA"), Model: "cnmf_1x1", Dataset: "mnist", Noise: n.String(), Level: k, Eta: float64(eta), Correct: 100 - k, N: 100, Accuracy: float64(100 - k)})
		}
	}
	if _, err := WriteRobustness(rob, RobustnessResult{Seed: 21, LimitTest: 100, WallSeconds: 3, Rows: rr}); err != nil {
		t.Fatal(err)
	}

	// The dictionary of a freshly initialised tiny network.
	cfg, err := nn.LoadConfig(filepath.Join("testdata", "tiny_cnmf_1x1.json"))
	if err != nil {
		t.Fatal(err)
	}
	dict := func(r *Run) (*Dictionary, []float32, int, error) {
		if r.Model == "cnn" {
			return nil, nil, 0, fmt.Errorf("the network has no NNMF layer")
		}
		net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, 1, nn.Options{Threads: 1}, 3)
		if err != nil {
			return nil, nil, 0, err
		}
		defer net.Close()
		d, err := FirstDictionary(net)
		if err != nil {
			return nil, nil, 0, err
		}
		imgs := testBatch(5, 6, 3*28*28)
		p, err := d.CenterPatches(imgs, 6, 28, 28)
		return d, p, 6, err
	}
	out := filepath.Join(root, "report")
	files, err := WriteReport(ReportOptions{Runs: []string{filepath.Join(root, "runA"), filepath.Join(root, "runC"), filepath.Join(root, "runB")},
		Robustness: []string{rob}, GradCheck: grad, Out: out, Dictionary: dict})
	if err != nil {
		t.Fatal(err)
	}
	checkFigures(t, files)
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Match(html) {
		t.Fatal("the page refers to something outside its folder")
	}

	dom := loadInChromium(t, filepath.Join(out, "index.html"))
	m := regexp.MustCompile(`<body data-images="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil || !strings.HasPrefix(m[1], "ok:") {
		t.Fatalf("images: %v", m)
	}
	if n, _ := strconv.Atoi(strings.TrimPrefix(m[1], "ok:")); n != 1+2+1+2 { // curves, 2 robustness, 1 gradient (dense only), dictionary + reconstructions
		t.Fatalf("%d images loaded", n)
	}
	// The table against the metrics.csv files, read independently here.
	finalAcc := func(run string) (final, best float64) {
		raw, _ := os.ReadFile(filepath.Join(root, run, train.MetricsFile))
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		for _, l := range lines[1:] {
			v, _ := strconv.ParseFloat(strings.Split(l, ",")[3], 64)
			final, best = v, max(best, v)
		}
		return
	}
	fa, ba := finalAcc("runA")
	fb, bb := finalAcc("runB")
	fc, bc := finalAcc("runC")
	check := func(model string, wantFinal, wantBest string, wantMean float64) {
		re := regexp.MustCompile(`<tr data-model="` + model + `"[^>]*data-final-mean="([^"]*)"[^>]*>\s*<td class="l">` + model + `</td><td class="l">mnist</td><td>\d+</td><td>([^<]*)</td><td>([^<]*)</td>`)
		g := re.FindStringSubmatch(dom)
		if g == nil {
			t.Fatalf("no table row for %s in\n%s", model, dom)
		}
		mean, _ := strconv.ParseFloat(g[1], 64)
		if math.Abs(mean-wantMean) > 1e-9 || g[2] != wantFinal || g[3] != wantBest {
			t.Fatalf("%s: row %q, want final %q best %q (mean %v)", model, g[0], wantFinal, wantBest, wantMean)
		}
	}
	mf, sf := (fa+fb)/2, math.Abs(fa-fb)/math.Sqrt2
	mb, sb := (ba+bb)/2, math.Abs(ba-bb)/math.Sqrt2
	check("cnmf_1x1", fmt.Sprintf("%.2f ± %.2f", mf, sf), fmt.Sprintf("%.2f ± %.2f", mb, sb), mf)
	check("cnn", fmt.Sprintf("%.2f", fc), fmt.Sprintf("%.2f", bc), fc)
	if !strings.Contains(dom, "reduced budget: 200 images × 3 epochs × 2 seeds") || !strings.Contains(dom, "reduced budget: 200 images × 2 epochs × 1 seed") {
		t.Fatal("budget labels missing")
	}
	if !strings.Contains(dom, "No dictionary: the network has no NNMF layer") {
		t.Fatal("the CNN's missing dictionary is not explained")
	}

	// A broken image is caught by the page's own check.
	os.Remove(filepath.Join(out, "curves.png"))
	dom = loadInChromium(t, filepath.Join(out, "index.html"))
	if !strings.Contains(dom, `data-images="broken:curves.png"`) {
		t.Fatal("a missing image was not reported")
	}
}
