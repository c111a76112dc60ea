package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// tinyRun trains the experiment package's tiny cnmf_1x1 for one epoch on 100
// MNIST images (tested on 50) into dir and returns the data root.
func tinyRun(t *testing.T, dir string, seed string) string {
	t.Helper()
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "mnist"))
	config := filepath.Join("..", "..", "experiment", "testdata", "tiny_cnmf_1x1.json")
	if _, err := execute("train", "--config", config, "--dataset", "mnist", "--data-dir", dataDir, "--no-fetch",
		"--epochs", "1", "--limit-train", "100", "--limit-test", "50", "--seed", seed, "--threads", "1", "--out", dir); err != nil {
		t.Fatal(err)
	}
	return dataDir
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestPlotCommand(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "tiny")
	dataDir := tinyRun(t, run, "1")
	out := filepath.Join(root, "pictures")
	stdout, _, err := runDeepnmf("plot", "--run", run, "--out", out, "--patches", "4", "--data-dir", dataDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res plotResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	want := []string{"curves.png", "curves.svg", "1-tiny/dictionary.png", "1-tiny/dictionary.svg", "1-tiny/reconstructions.png", "1-tiny/reconstructions.svg"}
	if len(res.Files) != len(want) || len(res.Notes) != 0 {
		t.Fatalf("%+v", res)
	}
	for i, w := range want {
		if res.Files[i] != filepath.Join(out, w) {
			t.Fatalf("file %d: %s, want %s", i, res.Files[i], w)
		}
		if strings.HasSuffix(w, ".png") {
			checkPNG(t, res.Files[i])
		}
	}
	if _, err := execute("plot", "--out", out); err == nil {
		t.Fatal("plot without --run accepted")
	}
	if _, err := execute("plot", "--run", root, "--out", out); err == nil {
		t.Fatal("a directory that is no run accepted")
	}
}
