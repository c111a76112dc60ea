package data

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// go test ./data/ -run '^$' -bench . -benchtime 3x

func BenchmarkLoadCIFAR10Folder(b *testing.B) {
	root := sharedtest.Path(b, "data")
	for b.Loop() {
		if _, err := Load("cifar10", root); err != nil {
			b.Fatal(err)
		}
	}
}

// The official format: the batches in a tar.gz, read by streaming.
func BenchmarkLoadCIFAR10Archive(b *testing.B) {
	src := filepath.Join(sharedtest.Path(b, "data"), "cifar10", cifarFolder)
	root := b.TempDir()
	os.MkdirAll(filepath.Join(root, "cifar10"), 0o755)
	out, err := os.Create(filepath.Join(root, "cifar10", cifarArchive))
	if err != nil {
		b.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for _, name := range cifarMembers() {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			b.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: cifarFolder + "/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	zw.Close()
	out.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load("cifar10", root); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFill(b *testing.B, cfg LoaderConfig) {
	info := mustInfo("cifar10")
	l := newLoader(b, info, synthSplit(info, 5000, 1), cfg)
	x, lb := make([]float32, 50*3*28*28), make([]int, 50)
	i := 0
	for b.Loop() {
		if _, err := l.Fill(i/l.NumBatches(), i%l.NumBatches(), x, lb); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// One CIFAR-10 training batch of 50: crop, flip, colour jitter, float32.
func BenchmarkFillBatch50PerBatch(b *testing.B) { benchFill(b, TrainConfig(1)) }

func BenchmarkFillBatch50PerImage(b *testing.B) {
	cfg := TrainConfig(1)
	cfg.Augment = AugmentPerImage
	benchFill(b, cfg)
}

func BenchmarkFillBatch50Eval(b *testing.B) { benchFill(b, EvalConfig()) }
