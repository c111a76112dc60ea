package nn

import (
	"math/rand/v2"
	"testing"
)

// benchNetwork builds a preset on 3×28×28 with random input and a random
// output gradient for timing and allocation tests.
func benchNetwork(tb testing.TB, preset string, threads, batch int) (*Network, []float32, []float32) {
	cfg, err := Preset(preset)
	if err != nil {
		tb.Fatal(err)
	}
	net, err := Build(cfg, Shape{3, 28, 28}, batch, Options{Threads: threads}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*28*28)
	for i := range x {
		x[i] = r.Float32()
	}
	g := make([]float32, batch*10)
	for i := range g {
		g[i] = r.Float32() - 0.5
	}
	return net, x, g
}

func benchFwdBwd(b *testing.B, preset string, threads, batch int) {
	net, x, g := benchNetwork(b, preset, threads, batch)
	defer net.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward(x, batch); err != nil {
			b.Fatal(err)
		}
		if err := net.Backward(g); err != nil {
			b.Fatal(err)
		}
	}
}

// Forward+backward of the paper's model at the official batch size.
func BenchmarkCNMF1x1Batch50Threads1(b *testing.B) { benchFwdBwd(b, "cnmf_1x1", 1, 50) }
func BenchmarkCNMF1x1Batch50Threads2(b *testing.B) { benchFwdBwd(b, "cnmf_1x1", 2, 50) }
func BenchmarkCNN1x1Batch50Threads1(b *testing.B)  { benchFwdBwd(b, "cnn_1x1", 1, 50) }

func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, threads := range []int{1, 2} {
		net, x, g := benchNetwork(t, "cnmf_1x1", threads, 4)
		for _, batch := range []int{2, 3, 4} {
			run := func() {
				if _, err := net.Forward(x, batch); err != nil {
					t.Fatal(err)
				}
				if err := net.Backward(g); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if n := testing.AllocsPerRun(5, run); n != 0 {
				t.Errorf("threads %d batch %d: Forward+Backward allocates %.1f times per run", threads, batch, n)
			}
		}
		net.Close()
	}
}
