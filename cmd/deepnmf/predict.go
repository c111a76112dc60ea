package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder with image.Decode
	_ "image/png"  // registers the PNG decoder with image.Decode
	"math"
	"os"
	"runtime"
	"sort"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newPredictCmd) }

type prediction struct {
	File    string       `json:"file"`
	Classes []classScore `json:"top"`
}

type classScore struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"`
	Probability float32 `json:"probability"`
}

func newPredictCmd() *cobra.Command {
	var src train.ModelSource
	var open train.OpenOptions
	var top int
	var asJSON, runningStats bool
	cmd := &cobra.Command{
		Use:   "predict [flags] IMAGE...",
		Short: "Classify PNG/JPEG images with a trained network",
		Long: `Classify PNG or JPEG files with trained weights and print the top classes with
their probabilities.

Each image is prepared as the test images are: converted to RGB (or to grayscale
for MNIST/Fashion-MNIST, with PIL's L weights), resized so that its shorter side
is the dataset's image size (32 for CIFAR-10, 28 for the MNISTs; area averaging
when shrinking, bilinear when enlarging, rounded to 8 bits), center-cropped to a
square of that size, then center-cropped to the training crop (28 or 24) exactly as
the test images are, and divided by 255. A 32×32 CIFAR-style PNG therefore gives
exactly the network input of the test loader.

All files given form ONE batch. The networks use BatchNorm with batch statistics
at evaluation too (as the official code, track_running_stats=False), so an image's
probabilities depend on the other images of the batch: a single image is
normalised with its own statistics only. For results comparable with the test
accuracy, pass about 50 varied images at a time. (Networks trained with
--running-stats use their running statistics instead and do not depend on the batch.)

Weights: --run RUN_DIR (final.safetensors, else the last checkpoint, with the run's
config.json and dataset), or --weights FILE --config FILE|PRESET [--dataset NAME];
weights saved by deepnmf carry their config, so --config may be left out.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if src.RunDir == "" && src.Weights == "" {
				return errors.New("give --run RUN_DIR, or --weights FILE with --config")
			}
			if top < 1 || open.Threads < 1 {
				return fmt.Errorf("--top and --threads must be at least 1, got %d and %d", top, open.Threads)
			}
			if !cmd.Flags().Changed("dataset") {
				open.Dataset = "" // the run's or the weights', else CIFAR-10
			}
			if cmd.Flags().Changed("running-stats") {
				open.RunningStats = &runningStats
			}
			open.BatchSize = len(files)
			m, err := train.OpenModel(src, open)
			if err != nil {
				return err
			}
			defer m.Close()
			info, in := m.Dataset, m.Input
			x := make([]float32, len(files)*in.C*in.H*in.W)
			for i, path := range files {
				if err := loadImage(path, info, x[i*in.C*in.H*in.W:(i+1)*in.C*in.H*in.W]); err != nil {
					return err
				}
			}
			probs, err := m.Predict(x, len(files))
			if err != nil {
				return err
			}
			classes := m.Net.Classes()
			k := min(top, classes)
			var preds []prediction
			for i, f := range files {
				row := probs[i*classes : (i+1)*classes]
				idx := make([]int, classes)
				for c := range idx {
					idx[c] = c
				}
				sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
				p := prediction{File: f}
				for _, c := range idx[:k] {
					p.Classes = append(p.Classes, classScore{Class: info.Classes[c], Index: c, Probability: row[c]})
				}
				preds = append(preds, p)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(preds)
			}
			for _, p := range preds {
				fmt.Fprintf(w, "%s:", p.File)
				for _, c := range p.Classes {
					fmt.Fprintf(w, "  %s %.4f", c.Class, c.Probability)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	f := cmd.Flags()
	addModelSourceFlags(f, &src)
	f.StringVar(&open.Dataset, "dataset", "cifar10", "dataset the network was trained on (class names, image size; default: the run's, else the one deepnmf train recorded in --weights)")
	f.IntVar(&top, "top", 3, "number of classes to print per image")
	f.IntVar(&open.Threads, "threads", runtime.NumCPU(), "worker goroutines (fixed shards of the batch)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.BoolVar(&runningStats, "running-stats", false, "the weights carry BatchNorm running statistics; use them (default with --run: as the run was trained)")
	return cmd
}

// loadImage decodes a PNG/JPEG file and writes the prepared CHW float32 image
// (info.Channels × info.Crop × info.Crop) into dst.
func loadImage(path string, info data.Info, dst []float32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		// Decoding it would report an unknown image format.
		return fmt.Errorf("%s is a directory, not an image file", path)
	}
	img, _, err := image.Decode(f)
	if errors.Is(err, image.ErrFormat) {
		return fmt.Errorf("%s: not a PNG or JPEG image", path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return fmt.Errorf("%s: empty image", path)
	}
	ch := info.Channels
	src := make([]float64, ch*w*h)
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			if ch == 1 {
				// PIL's convert("L"): L = R·299/1000 + G·587/1000 + B·114/1000.
				src[y*w+x] = float64((int(c.R)*299 + int(c.G)*587 + int(c.B)*114 + 500) / 1000)
			} else {
				src[0*w*h+y*w+x] = float64(c.R)
				src[1*w*h+y*w+x] = float64(c.G)
				src[2*w*h+y*w+x] = float64(c.B)
			}
		}
	}
	// Shorter side to info.Size, then a centred info.Size square, then the
	// evaluation CenterCrop to info.Crop.
	scale := float64(info.Size) / float64(min(w, h))
	rw, rh := max(info.Size, int(math.Round(float64(w)*scale))), max(info.Size, int(math.Round(float64(h)*scale)))
	resized := resize(src, ch, w, h, rw, rh)
	left := (rw-info.Size)/2 + (info.Size-info.Crop)/2
	topOff := (rh-info.Size)/2 + (info.Size-info.Crop)/2
	for c := range ch {
		for y := range info.Crop {
			for x := range info.Crop {
				v := resized[c*rw*rh+(topOff+y)*rw+left+x]
				dst[c*info.Crop*info.Crop+y*info.Crop+x] = float32(uint8(min(max(math.Round(v), 0), 255))) / 255
			}
		}
	}
	return nil
}

// resize scales a CHW image: area averaging when shrinking (each output
// pixel is the mean of the source area it covers), bilinear interpolation
// when enlarging; separable, in float64.
func resize(src []float64, ch, w, h, nw, nh int) []float64 {
	tmp := make([]float64, ch*h*nw)
	for c := range ch {
		for y := range h {
			resample1D(src[c*w*h+y*w:], 1, w, tmp[c*h*nw+y*nw:], 1, nw)
		}
	}
	out := make([]float64, ch*nh*nw)
	for c := range ch {
		for x := range nw {
			resample1D(tmp[c*h*nw+x:], nw, h, out[c*nh*nw+x:], nw, nh)
		}
	}
	return out
}

func resample1D(src []float64, sstride, n int, dst []float64, dstride, m int) {
	scale := float64(n) / float64(m)
	for i := range m {
		if scale >= 1 {
			lo, hi := float64(i)*scale, float64(i+1)*scale
			var sum float64
			for j := int(lo); j < n && float64(j) < hi; j++ {
				overlap := min(hi, float64(j+1)) - max(lo, float64(j))
				sum += overlap * src[j*sstride]
			}
			dst[i*dstride] = sum / scale
			continue
		}
		pos := min(max((float64(i)+0.5)*scale-0.5, 0), float64(n-1))
		j := min(int(pos), n-2)
		if n == 1 {
			dst[i*dstride] = src[0]
			continue
		}
		f := pos - float64(j)
		dst[i*dstride] = (1-f)*src[j*sstride] + f*src[(j+1)*sstride]
	}
}
