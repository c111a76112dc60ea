package kernels

import (
	"math/rand/v2"
	"testing"
)

// The two big Unfold layers of the paper model at 28×28, batch 50: the NCHW
// input (3 channels, 5×5 → 28800×75) and the second block's channels-last map
// (32 channels at 12×12, 5×5 → 3200×800).
var unfoldBenchCases = []struct {
	name         string
	g            UnfoldGeom
	channelsLast bool
}{
	{"NCHW_50x3x28x28_k5", UnfoldGeom{N: 50, C: 3, H: 28, W: 28, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}, false},
	{"Rows_50x32x12x12_k5", UnfoldGeom{N: 50, C: 32, H: 12, W: 12, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}, true},
}

func BenchmarkUnfold(b *testing.B) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, c := range unfoldBenchCases {
		x := randomSlice(rng, c.g.InputLen())
		cols := make([]float32, c.g.Rows()*c.g.Cols())
		unfold, fold := UnfoldNCHW, FoldNCHW
		if c.channelsLast {
			unfold, fold = UnfoldRows, FoldRows
		}
		// Bytes of the unfolded matrix written (unfold) or read (fold).
		bytes := float64(4 * len(cols))
		b.Run("unfold/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := unfold(c.g, x, cols); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run("fold/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := fold(c.g, cols, x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
