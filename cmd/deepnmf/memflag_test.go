package main

import (
	"image"
	"path/filepath"
	"strings"
	"testing"
)

// --max-memory reaches the network builder of every command, and refuses
// before any data or weights are read; bad sizes are flag errors.
func TestMaxMemoryFlag(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	saveMNISTWeights(t, weights, nil)
	img := writePNG(t, filepath.Join(dir, "x.png"), image.NewGray(image.Rect(0, 0, 28, 28)))
	const want = "over the memory limit of 1.0 KiB;"
	for _, args := range [][]string{
		{"train", "--out", filepath.Join(dir, "run"), "--data-dir", dir, "--no-fetch", "--epochs", "1", "--max-memory", "1KiB"},
		{"predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", "--max-memory", "1KiB", img},
		{"bench", "--steps", "1", "--warmup", "0", "--threads", "1", "--max-memory", "1KiB"},
		{"eval", "--weights", weights, "--dataset", "mnist", "--data-dir", "/work/shared/data", "--limit-test", "10", "--threads", "1", "--max-memory", "1KiB"},
	} {
		out, err := execute(args...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s --max-memory 1KiB: %v, want an error containing %q\n%s", args[0], err, want, out)
		}
	}
	out, err := execute("predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", "--max-memory", "2 parsecs", img)
	if err == nil || !strings.Contains(out, `unknown unit "parsecs"`) {
		t.Errorf("a bad size: %v\n%s", err, out)
	}
	out, err = execute("predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", "--max-memory", "1GiB", img)
	if err != nil || !strings.HasPrefix(out, img+":") {
		t.Errorf("within the budget: %v\n%s", err, out)
	}
}
