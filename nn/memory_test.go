package nn

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/nnmf"
)

// The estimate is what Build really allocates, for every preset, on both
// input shapes, across batch sizes, thread counts and backward methods.
func TestEstimateMatchesBuild(t *testing.T) {
	lo, hi := math.Inf(1), 0.0
	defer func() { t.Logf("estimate / allocated: %.3f to %.3f", lo, hi) }()
	for _, name := range PresetNames() {
		cfg, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			in             Shape
			batch, threads int
			method         nnmf.Method
			running        bool
		}{
			{Shape{3, 28, 28}, 1, 1, nnmf.Approx, false},
			{Shape{3, 28, 28}, 50, 2, nnmf.Approx, true},
			{Shape{1, 24, 24}, 200, 8, nnmf.Unrolled, false},
			{Shape{3, 28, 28}, 64, 3, nnmf.Implicit, false},
		} {
			opt := Options{Threads: c.threads, Backward: c.method, RunningStats: c.running, MaxMemory: -1}
			est, err := EstimateMemory(cfg, c.in, c.batch, opt)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			net, err := Build(cfg, c.in, c.batch, opt, 1)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			net.Close()
			got := float64(after.TotalAlloc - before.TotalAlloc)
			r := est.Total() / got
			lo, hi = min(lo, r), max(hi, r)
			if r < 0.7 || r > 1.5 {
				t.Errorf("%s %v batch %d threads %d %v: estimate %.0f bytes, Build allocated %.0f (ratio %.2f)", name, c.in, c.batch, c.threads, c.method, est.Total(), got, r)
			}
		}
	}
}

// With Options.Optimizer the estimate adds two float32 moments per parameter.
func TestEstimateCountsOptimizer(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	in := Shape{3, 28, 28}
	a, err := EstimateMemory(cfg, in, 50, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EstimateMemory(cfg, in, 50, Options{Optimizer: true})
	net, err := Build(cfg, in, 1, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	total, _ := net.ParamCount()
	if a.Optimizer != 0 || b.Optimizer != float64(8*total) || b.Total()-a.Total() != float64(8*total) {
		t.Errorf("optimiser state %v → %v, want 0 → %d (8 bytes a parameter)", a.Optimizer, b.Optimizer, 8*total)
	}
}

// wideConfig is cnmf_1x1 with a first block of na NNMF neurons a (and 32
// neurons b), as P4 of issue 16: every tensor stays below the per-tensor
// element limit, so only the memory of the whole network refuses it.
func wideConfig(t *testing.T, na int) *Config {
	t.Helper()
	cfg, err := Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumberOfNeuronsA[0] = na
	cfg.NumberOfNeuronsB[0] = 32
	return cfg
}

// P4/P5 of issue 16: configs and batch sizes whose buffers would take
// gigabytes are refused before anything is allocated, quickly, with an error
// giving the estimate, batch × threads and the limit.
func TestBuildRefusesOverBudget(t *testing.T) {
	cnmf, _ := Preset("cnmf_1x1")
	in := Shape{3, 28, 28}
	cases := []struct {
		name           string
		cfg            *Config
		batch, threads int
		budget         bool // refused by the budget, not by the per-tensor limit
	}{
		// At batch 50 one activation alone passes 2^31 elements.
		{"number_of_neurons_a 2e7", wideConfig(t, 20_000_000), 50, 2, false},
		{"number_of_neurons_a 1e6", wideConfig(t, 1_000_000), 50, 2, false},
		{"number_of_neurons_a 1e6, batch 1", wideConfig(t, 1_000_000), 1, 1, true},
		{"batch 40000", cnmf, 40000, 2, true},
		{"threads 10000", cnmf, 50, 10000, true},
	}
	const limit = 2 << 30
	for _, c := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		net, err := Build(c.cfg, in, c.batch, Options{Threads: c.threads, MaxMemory: limit, Optimizer: true}, 1)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if err == nil {
			net.Close()
			t.Errorf("%s: built within a 2 GiB budget", c.name)
			continue
		}
		var mle *MemoryLimitError
		switch {
		case !c.budget:
			if !strings.Contains(err.Error(), "has more than 2147483647 elements") {
				t.Errorf("%s: got %v, want the per-tensor limit", c.name, err)
			}
		case !errors.As(err, &mle):
			t.Errorf("%s: got %v, want a *MemoryLimitError", c.name, err)
		default:
			for _, want := range []string{"needs an estimated", "for batch " + strconv.Itoa(c.batch) + " × " + strconv.Itoa(c.threads) + " threads", "over the memory limit of 2.0 GiB;"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q does not contain %q", c.name, err, want)
				}
			}
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
			t.Errorf("%s: refusing allocated %d bytes", c.name, got)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s: refusing took %v", c.name, elapsed)
		}
	}
	// The estimate decides: just above it the same network builds.
	est, err := EstimateMemory(cnmf, in, 50, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cnmf, in, 50, Options{Threads: 2, MaxMemory: int64(est.Total()) - 1}, 1); err == nil {
		t.Error("a budget one byte below the estimate must refuse")
	}
	net, err := Build(cnmf, in, 50, Options{Threads: 2, MaxMemory: int64(est.Total()) + 1}, 1)
	if err != nil {
		t.Fatalf("a budget one byte above the estimate must build: %v", err)
	}
	net.Close()
}

// A default budget applies when none is given: half of MemTotal.
func TestDefaultMaxMemory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meminfo")
	os.WriteFile(path, []byte("MemFree:  1000 kB\nMemTotal:       24519312 kB\nBuffers: 1 kB\n"), 0o644)
	if got, err := memTotal(path); err != nil || got != 24519312*1024 {
		t.Errorf("memTotal = %d, %v", got, err)
	}
	os.WriteFile(path, []byte("nothing\n"), 0o644)
	if _, err := memTotal(path); err == nil {
		t.Error("a meminfo without MemTotal must be an error")
	}
	d := DefaultMaxMemory()
	if total, err := memTotal("/proc/meminfo"); err == nil {
		if d != total/2 {
			t.Errorf("DefaultMaxMemory = %d, half of MemTotal is %d", d, total/2)
		}
	} else if d != fallbackMaxMemory {
		t.Errorf("DefaultMaxMemory = %d without /proc/meminfo, want %d", d, int64(fallbackMaxMemory))
	}
	// Without MaxMemory the default applies; a negative one means no limit.
	var mle *MemoryLimitError
	err := checkBudget(MemoryEstimate{Activations: float64(d) + 1}, 50, Options{Threads: 2})
	if !errors.As(err, &mle) || !mle.Default || mle.Limit != d || !strings.Contains(err.Error(), "half of the machine's RAM") {
		t.Errorf("default budget: got %v", err)
	}
	if err := checkBudget(MemoryEstimate{Activations: float64(d)}, 50, Options{}); err != nil {
		t.Errorf("an estimate equal to the default budget: %v", err)
	}
	if err := checkBudget(MemoryEstimate{Activations: 1e30}, 50, Options{MaxMemory: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "123": 123, "2GiB": 2 << 30, "500MiB": 500 << 20, "1.5G": 3 << 29, "10 KB": 10_000,
		"3gb": 3_000_000_000, "7b": 7, "1TiB": 1 << 40, "64k": 64 << 10,
	} {
		got, err := ParseByteSize(in)
		if err != nil || int64(got) != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1GiB", "2 parsecs", "1e400", "9999999999TiB", "1..2G"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	var b ByteSize
	if err := b.Set("2GiB"); err != nil || b.String() != "2147483648" || b.Type() != "size" {
		t.Errorf("Set: %v %s", err, b.String())
	}
}
