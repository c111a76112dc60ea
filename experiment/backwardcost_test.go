package experiment

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestBackwardCostIsolatesEachRow(t *testing.T) {
	t.Setenv(fakeBenchEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := CostOptions{Exe: exe, Methods: []string{"approx", "unrolled"}, Iterations: []int{8, 1}, Model: "fake", Batch: 50, Steps: 2, Threads: 1}
	var seen int
	rows, err := BackwardCost(context.Background(), o, func(CostRow) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || seen != 4 {
		t.Fatalf("%d rows, %d callbacks", len(rows), seen)
	}
	// Rows run in the given T order (8 first): a shared process would carry its 128 MiB peak
	// into every later row; a child per row gives each its own.
	for _, r := range rows {
		want := int64(r.Iterations) << 24
		if r.PeakRSSBytes < want || r.PeakRSSBytes > want+(64<<20) {
			t.Fatalf("%s T=%d: peak %d bytes, want %d plus the runtime", r.Method, r.Iterations, r.PeakRSSBytes, want)
		}
		if r.StepSeconds != 0.5*float64(r.Iterations) {
			t.Fatalf("%+v: step time not read from the child's JSON", r)
		}
	}
	dir := t.TempDir()
	files, err := WriteBackwardCost(dir, rows)
	if err != nil {
		t.Fatal(err)
	}
	checkFigures(t, files)
	csv, _ := os.ReadFile(files[0])
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[4], "fake,unrolled,1,50,1,2,0.5,100,") {
		t.Fatalf("csv:\n%s", csv)
	}

	o.Methods = []string{"fail"}
	if _, err := BackwardCost(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), "unknown backward") {
		t.Fatalf("a failing child: %v", err)
	}
}
