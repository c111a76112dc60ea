package main

import (
	"go/build"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
)

// A 32×32 image must be prepared exactly as the test loader prepares it
// (CenterCrop 28, /255); a 64×64 image made of 2×2 blocks of the same pixels
// must downscale back to it.
func TestPredictImageMatchesEvalLoader(t *testing.T) {
	info, err := data.Lookup("cifar10")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	split := data.Split{N: 1, C: 3, H: 32, W: 32, Images: make([]uint8, 3*32*32), Labels: []uint8{0}}
	for i := range split.Images {
		split.Images[i] = uint8(r.IntN(256))
	}
	loader, err := data.NewLoader(info, &split, data.EvalConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 3*28*28)
	if _, err := loader.Fill(0, 0, want, make([]int, 1)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, scale := range []int{1, 2} {
		img := image.NewNRGBA(image.Rect(0, 0, 32*scale, 32*scale))
		for y := range 32 * scale {
			for x := range 32 * scale {
				p := (y/scale)*32 + x/scale
				img.SetNRGBA(x, y, color.NRGBA{split.Images[p], split.Images[1024+p], split.Images[2048+p], 255})
			}
		}
		path := writePNG(t, filepath.Join(dir, "img.png"), img)
		got := make([]float32, len(want))
		if err := loadImage(path, info, got); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("scale %d: value %d = %v, the eval loader gives %v", scale, i, got[i], want[i])
			}
		}
	}
}

// Non-square images smaller and larger than 32 pixels are scaled and cropped
// without reading outside the image.
func TestPredictImageOddSizes(t *testing.T) {
	info, err := data.Lookup("mnist")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, size := range [][2]int{{20, 50}, {1, 1}, {97, 33}} {
		img := image.NewGray(image.Rect(0, 0, size[0], size[1]))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		path := writePNG(t, filepath.Join(dir, "odd.png"), img)
		got := make([]float32, 24*24)
		if err := loadImage(path, info, got); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%v: value %d = %v outside [0,1]", size, i, v)
			}
		}
	}
}

// saveMNISTWeights writes freshly initialised cnmf_1x1 weights for 1×24×24
// input (MNIST-shaped), with the given safetensors metadata.
func saveMNISTWeights(t *testing.T, path string, meta map[string]string) {
	t.Helper()
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.Build(cfg, nn.Shape{C: 1, H: 24, W: 24}, 1, nn.Options{Threads: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SaveWeights(path, meta); err != nil {
		t.Fatal(err)
	}
}

func writePNG(t *testing.T, path string, img image.Image) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// The tests of this package import image/png themselves, which registers the
// PNG decoder inside the test binary only; the deepnmf binary must register
// its decoders on its own, so check the non-test imports.
func TestPredictRegistersImageDecoders(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image/png", "image/jpeg"} {
		if !slices.Contains(pkg.Imports, want) {
			t.Errorf("package main does not import %s: deepnmf predict could not decode such files", want)
		}
	}
}

func TestPredictRejectsNonImage(t *testing.T) {
	info, err := data.Lookup("cifar10")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "notes.png")
	if err := os.WriteFile(path, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, info.Channels*info.Crop*info.Crop)
	err = loadImage(path, info, dst)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a PNG or JPEG") {
		t.Fatalf("error %v, want one naming %s as not a PNG or JPEG image", err, path)
	}
	dir := filepath.Dir(path)
	if err := loadImage(dir, info, dst); err == nil || !strings.Contains(err.Error(), dir+" is a directory") {
		t.Errorf("error %v, want one naming %s as a directory", err, dir)
	}
}

// Weights saved by deepnmf carry their config, so predict, like eval, needs no
// --config with them.
func TestPredictConfigFromWeights(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	saveMNISTWeights(t, weights, nil)
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	path := writePNG(t, filepath.Join(dir, "digit.png"), img)
	out, err := execute("predict", "--weights", weights, "--dataset", "mnist", "--threads", "1", "--top", "1", path)
	if err != nil || !strings.HasPrefix(out, path+":") {
		t.Fatalf("predict --weights without --config: %v\n%s", err, out)
	}
}

// Errors about a network that does not fit name its config and what it was
// built for: the weights' shapes alone do not tell a user that MNIST weights
// were used on CIFAR-10.
func TestNetworkErrorsNameTheConfig(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "mnist.safetensors")
	saveMNISTWeights(t, weights, nil)
	img := writePNG(t, filepath.Join(dir, "x.png"), image.NewRGBA(image.Rect(0, 0, 32, 32)))
	out, err := execute("predict", "--weights", weights, "--config", "cnmf_1x1", "--threads", "1", img)
	if err == nil || !strings.Contains(out, "built from cnmf_1x1 for cifar10 input 3×28×28") {
		t.Errorf("MNIST weights on CIFAR-10: %v\n%s", err, out)
	}
	out, err = execute("inspect", "--model", "cnmf_1x1", "--input", "3,8,8")
	if err == nil || !strings.Contains(out, "cnmf_1x1 on input 3×8×8") {
		t.Errorf("inspect on a too small input: %v\n%s", err, out)
	}
	// A config whose last block does not give one output per class.
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumberOfNeuronsA[len(cfg.NumberOfNeuronsA)-1] = 7
	raw, err := cfg.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	seven := filepath.Join(dir, "seven.json")
	if err := os.WriteFile(seven, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execute("predict", "--weights", weights, "--config", seven, "--threads", "1", img)
	if err == nil || !strings.Contains(out, "network of "+seven+" has 7 outputs") {
		t.Errorf("7-output config: %v\n%s", err, out)
	}
}

// A weights file that is missing is reported as such, without a hint about
// configs and datasets; so is a run directory that holds no weights yet.
func TestMissingWeightsNamedPlainly(t *testing.T) {
	dir := t.TempDir()
	img := writePNG(t, filepath.Join(dir, "x.png"), image.NewRGBA(image.Rect(0, 0, 32, 32)))
	missing := filepath.Join(dir, "none.safetensors")
	out, err := execute("predict", "--weights", missing, "--config", "cnmf_1x1", "--threads", "1", img)
	if err == nil || !strings.Contains(out, missing) || strings.Contains(out, "were the weights trained") {
		t.Errorf("missing weights: %v\n%s", err, out)
	}
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)
	os.WriteFile(filepath.Join(run, "run.json"), []byte(`{"options": {"dataset": "cifar10", "batch_size": 50}}`), 0o644)
	out, err = execute("predict", "--run", run, "--threads", "1", img)
	if err == nil || !strings.Contains(out, "holds no weights yet") {
		t.Errorf("run without weights: %v\n%s", err, out)
	}
}

// Weights written by deepnmf train record their dataset: predict and eval
// take it from them when --dataset is not given.
func TestDatasetFromWeights(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "final.safetensors")
	saveMNISTWeights(t, weights, map[string]string{"dataset": "fashion-mnist"})
	path := writePNG(t, filepath.Join(dir, "shoe.png"), image.NewGray(image.Rect(0, 0, 28, 28)))
	out, err := execute("predict", "--weights", weights, "--threads", "1", "--top", "10", path)
	if err != nil || !strings.Contains(out, "Ankle boot") {
		t.Errorf("predict --weights without --dataset: %v, want Fashion-MNIST's classes\n%s", err, out)
	}
	// eval reaches the data (absent here) of the recorded dataset.
	out, err = execute("eval", "--weights", weights, "--data-dir", dir, "--threads", "1")
	if err == nil || !strings.Contains(out, "fashion-mnist") {
		t.Errorf("eval --weights without --dataset: %v, want it to look for fashion-mnist\n%s", err, out)
	}
}
