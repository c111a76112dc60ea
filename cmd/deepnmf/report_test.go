package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	dataDir := tinyRun(t, a, "1")
	tinyRun(t, b, "2")
	grad := filepath.Join(root, "grad")
	if _, err := execute("gradcheck", "--no-conv", "--iterations", "1,20", "--out", grad); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "report")
	if _, err := execute("report", "--run", a, "--run", b, "--gradcheck", grad, "--data-dir", dataDir, "--out", out); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr data-model="tiny_cnmf_1x1" data-runs="2"`, "reduced budget: 100 images × 1 epoch × 2 seeds, tested on 50 images",
		`src="model-1/dictionary.png"`, `src="gradcheck/gradcheck_dense.png"`, `src="curves.png"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, f := range []string{"curves.png", "model-1/dictionary.png", "model-1/reconstructions.png", "gradcheck/gradcheck_dense.png"} {
		checkPNG(t, filepath.Join(out, f))
	}
	if _, err := execute("report", "--run", a, "--robustness", root, "--out", out); err == nil {
		t.Fatal("a robustness directory without robustness.json accepted")
	}
}
