package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bombPNG is a 68-byte PNG whose header claims 60000×60000 grey pixels (P2
// of issue 16: predict ran out of memory decoding it).
const bombPNG = "89504e470d0a1a0a0000000d494844520000ea600000ea600800000000a5b92a9e0000000b4944415478da6360c0040000140001ee5a69090000000049454e44ae426082"

// predict reads images through data.ReadImage, which refuses such a header
// before decoding; the error names the file, its size and the limit.
func TestPredictRefusesHugeImage(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	saveMNISTWeights(t, weights, nil)
	raw, err := hex.DecodeString(bombPNG)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "bomb.png")
	if err := os.WriteFile(img, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := execute("predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", img)
	if err == nil || !strings.Contains(out, img+": image of 60000×60000 pixels") || !strings.Contains(out, "limit of 50 megapixels") {
		t.Errorf("predict on a PNG claiming 60000×60000: %v\n%s", err, out)
	}
}
