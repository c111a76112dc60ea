package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepnmf/deepnmf/kernels"
)

// wire gives a standalone layer its pool and buffers for batch samples.
func wire(l layer, batch, threads int) *kernels.Pool {
	b := l.base()
	p := kernels.NewPool(threads)
	b.pool = p
	b.shardErrs = make([]error, threads)
	b.x = make([]float32, batch*b.in.size())
	b.y = make([]float32, batch*b.out.size())
	b.gx = make([]float32, batch*b.in.size())
	b.gy = make([]float32, batch*b.out.size())
	if pl, ok := l.(*poolLayer); ok && pl.maxPool {
		pl.argmax = make([]int32, batch*b.out.size())
	}
	return p
}

func fillRandom(r *rand.Rand, s []float32, lo, hi float32) {
	for i := range s {
		s[i] = lo + (hi-lo)*r.Float32()
	}
}

// Unfold against the definition on NCHW data, with padding, stride and
// dilation, and its backward against the adjoint identity ⟨U x, g⟩ = ⟨x, Uᵀg⟩.
func TestUnfoldReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const batch, C, H, W = 3, 2, 7, 6
	for _, g := range []struct{ kh, kw, sh, sw, ph, pw, dh, dw int }{
		{3, 3, 1, 1, 0, 0, 1, 1}, {3, 2, 2, 1, 1, 2, 1, 2}, {2, 3, 3, 2, 2, 1, 2, 1}, {7, 6, 1, 1, 0, 0, 1, 1}, {1, 1, 1, 1, 0, 0, 1, 1},
	} {
		for _, threads := range []int{1, 2, 3} {
			u, err := newUnfold(Shape{C, H, W}, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw)
			if err != nil {
				t.Fatal(err)
			}
			pool := wire(u, batch, threads)
			nchw := make([]float32, batch*C*H*W)
			fillRandom(r, nchw, -1, 1)
			u.nchwInput = threads == 3
			if u.nchwInput {
				copy(u.x, nchw)
			} else {
				for n := 0; n < batch; n++ {
					for c := 0; c < C; c++ {
						for p := 0; p < H*W; p++ {
							u.x[(n*H*W+p)*C+c] = nchw[(n*C+c)*H*W+p]
						}
					}
				}
			}
			u.batch = batch
			u.forward(batch)
			Ho, Wo, D := u.out.H, u.out.W, u.out.C
			for n := 0; n < batch; n++ {
				for oh := 0; oh < Ho; oh++ {
					for ow := 0; ow < Wo; ow++ {
						for c := 0; c < C; c++ {
							for i := 0; i < g.kh; i++ {
								for j := 0; j < g.kw; j++ {
									ih, iw := oh*g.sh-g.ph+i*g.dh, ow*g.sw-g.pw+j*g.dw
									var want float32
									if ih >= 0 && ih < H && iw >= 0 && iw < W {
										want = nchw[((n*C+c)*H+ih)*W+iw]
									}
									got := u.y[((n*Ho+oh)*Wo+ow)*D+c*g.kh*g.kw+i*g.kw+j]
									if got != want {
										t.Fatalf("%+v: unfold[%d,%d,%d,%d,%d,%d] = %g, want %g", g, n, oh, ow, c, i, j, got, want)
									}
								}
							}
						}
					}
				}
			}
			fillRandom(r, u.gy, -1, 1)
			fillRandom(r, u.gx, 5, 6) // the backward must overwrite
			u.backward(batch)
			checkAdjoint(t, "unfold", u.x, u.gx, u.y, u.gy)
			pool.Close()
		}
	}
}

func checkAdjoint(t *testing.T, what string, x, gx, y, gy []float32) {
	t.Helper()
	var a, b float64
	for i := range y {
		a += float64(y[i]) * float64(gy[i])
	}
	for i := range x {
		b += float64(x[i]) * float64(gx[i])
	}
	if math.Abs(a-b) > 1e-5*(math.Abs(a)+1) {
		t.Errorf("%s: ⟨Ax, g⟩ = %.9g, ⟨x, Aᵀg⟩ = %.9g", what, a, b)
	}
}

func TestPoolingReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const batch, C, H, W = 3, 4, 7, 8
	for _, g := range []struct{ kh, kw, sh, sw, ph, pw int }{
		{2, 2, 2, 2, 0, 0}, {3, 3, 2, 2, 1, 1}, {3, 2, 1, 2, 1, 0}, {7, 8, 1, 1, 0, 0},
	} {
		for _, maxPool := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				l, err := newPool(Shape{C, H, W}, maxPool, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw)
				if err != nil {
					t.Fatal(err)
				}
				pool := wire(l, batch, threads)
				fillRandom(r, l.x, -1, 1)
				l.forward(batch)
				Ho, Wo := l.out.H, l.out.W
				// Naive reference and its gradient scatter.
				wantGX := make([]float32, len(l.x))
				fillRandom(r, l.gy, -1, 1)
				for n := 0; n < batch; n++ {
					for oh := 0; oh < Ho; oh++ {
						for ow := 0; ow < Wo; ow++ {
							for c := 0; c < C; c++ {
								var sum float32
								best, arg := float32(math.Inf(-1)), -1
								for i := 0; i < g.kh; i++ {
									for j := 0; j < g.kw; j++ {
										ih, iw := oh*g.sh-g.ph+i, ow*g.sw-g.pw+j
										if ih < 0 || ih >= H || iw < 0 || iw >= W {
											continue
										}
										v := l.x[((n*H+ih)*W+iw)*C+c]
										sum += v
										if v > best {
											best, arg = v, ((n*H+ih)*W+iw)*C+c
										}
									}
								}
								o := ((n*Ho+oh)*Wo+ow)*C + c
								want := sum / float32(g.kh*g.kw) // count_include_pad
								if maxPool {
									want = best
									wantGX[arg] += l.gy[o]
								}
								if d := l.y[o] - want; d > 1e-6 || d < -1e-6 {
									t.Fatalf("%+v max=%v: y[%d] = %g, want %g", g, maxPool, o, l.y[o], want)
								}
							}
						}
					}
				}
				fillRandom(r, l.gx, 5, 6)
				l.backward(batch)
				if maxPool {
					for i := range wantGX {
						if l.gx[i] != wantGX[i] {
							t.Fatalf("%+v: max-pool gx[%d] = %g, want %g", g, i, l.gx[i], wantGX[i])
						}
					}
				} else {
					checkAdjoint(t, "avgpool", l.x, l.gx, l.y, l.gy)
				}
				pool.Close()
			}
		}
	}
}

// exactConfig is a conv-only network (every gradient exact, so finite
// differences apply) using what the golden files do not: padding, stride,
// dilation, max pooling, perceptron (type 3) pooling with its BatchNorm, a
// positive conv, a conv without bias and a full-field kernel.
func exactConfig(pool0 int) *Config {
	pairs := func(v ...int) [][]int {
		out := make([][]int, len(v)/2)
		for i := range out {
			out[i] = []int{v[2*i], v[2*i+1]}
		}
		return out
	}
	return &Config{
		Iterations:       3,
		NumberOfNeuronsA: []int{6, 5, 3}, NumberOfNeuronsB: []int{-1, 4, -1},
		KernelSizeConv: pairs(3, 3, 2, 2, -1, -1), StrideConv: pairs(1, 1, 2, 2, 1, 1),
		PaddingConv: pairs(1, 1, 1, 1, 0, 0), DilationConv: pairs(1, 1, 2, 2, 1, 1),
		KernelSizePool: pairs(3, 3, 2, 2, -1, -1), StridePool: pairs(2, 2, 1, 1, -1, -1),
		PaddingPool: pairs(1, 1, 0, 0, 0, 0), DilationPool: pairs(1, 1, 1, 1, 1, 1),
		TypeOfPooling: []int{pool0, 3, 0},
		LocalLearning: make([]bool, 3), LocalLearningKL: make([]bool, 3),
		LocalLearningPooling: make([]bool, 3), LocalLearningUseKLPooling: make([]bool, 3),
		TypeOfNeuronA:    []int{2, 2, 2},
		TypeOfNeuronB:    []int{3, 2, 0},
		BatchNormNeuronA: []bool{true, true, true}, BatchNormNeuronB: []bool{true, true, true},
		BiasNormNeuronA: []bool{true, false, true}, BiasNormNeuronB: []bool{true, false, true},
	}
}

// lossOf runs a forward pass and returns Σ w·p in float64.
func lossOf(t *testing.T, net *Network, x []float32, batch int, w []float32) float64 {
	p, err := net.Forward(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, v := range p {
		s += float64(v) * float64(w[i])
	}
	return s
}

// Directional finite differences of the whole network against Backward.
func TestExactNetworkGradient(t *testing.T) {
	for _, c := range []struct {
		name         string
		pool0        int
		runningStats bool
		training     bool
	}{{"maxpool", 2, false, true}, {"avgpool", 1, false, true}, {"running-stats-eval", 2, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			const batch = 3
			in := Shape{2, 9, 9}
			net, err := Build(exactConfig(c.pool0), in, batch, Options{Threads: 2, RunningStats: c.runningStats}, 9)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			r := rand.New(rand.NewPCG(7, 8))
			x := make([]float32, batch*in.size())
			fillRandom(r, x, 0, 1)
			if c.runningStats {
				// Give the running statistics some history, then evaluate with them.
				for i := 0; i < 3; i++ {
					net.Forward(x, batch)
				}
			}
			net.SetTraining(c.training)
			// Move every parameter away from its init: BN away from 1/0, and the
			// positive conv's near-zero off-diagonal weights away from the kink of |w|.
			for _, p := range net.Params() {
				for i := range p.Data {
					p.Data[i] += 0.3 * (r.Float32() - 0.5)
				}
			}
			w := make([]float32, batch*net.Classes())
			fillRandom(r, w, -1, 1)
			lossOf(t, net, x, batch, w)
			if err := net.Backward(w); err != nil {
				t.Fatal(err)
			}
			grads := map[*Param][]float32{}
			for _, p := range net.Params() {
				grads[p] = append([]float32(nil), p.Grad...)
			}
			for dir := 0; dir < 4; dir++ {
				v := map[*Param][]float32{}
				var dot, norm float64
				for _, p := range net.Params() {
					v[p] = make([]float32, len(p.Data))
					for i := range v[p] {
						e := r.Float32() - 0.5
						v[p][i] = e
						norm += float64(e) * float64(e)
						dot += float64(e) * float64(grads[p][i])
					}
				}
				h := 1e-3 / math.Sqrt(norm)
				shift := func(s float64) {
					for _, p := range net.Params() {
						for i := range p.Data {
							p.Data[i] += float32(s * h * float64(v[p][i]))
						}
					}
				}
				shift(1)
				lp := lossOf(t, net, x, batch, w)
				shift(-2)
				lm := lossOf(t, net, x, batch, w)
				shift(1)
				fd := (lp - lm) / (2 * h)
				if math.Abs(fd-dot) > 1e-2*math.Abs(dot)+1e-3 {
					t.Errorf("direction %d: finite difference %.6g, backward %.6g", dir, fd, dot)
				}
			}
		})
	}
}

// Running statistics follow PyTorch: momentum 0.1, unbiased running variance.
func TestBatchNormRunningStats(t *testing.T) {
	const batch, C, H, W = 2, 3, 2, 2
	training := true
	bn := newBatchNorm(Shape{C, H, W}, true, &training)
	bn.gamma = &Param{Data: []float32{1, 2, 0.5}, Grad: make([]float32, C)}
	bn.beta = &Param{Data: []float32{0, 1, -1}, Grad: make([]float32, C)}
	pool := wire(bn, batch, 2)
	defer pool.Close()
	bn.allocate(2)
	r := rand.New(rand.NewPCG(1, 1))
	fillRandom(r, bn.x, -2, 3)
	bn.forward(batch)
	M := batch * H * W
	for c := 0; c < C; c++ {
		var mean, sq float64
		for i := 0; i < M; i++ {
			mean += float64(bn.x[i*C+c])
		}
		mean /= float64(M)
		for i := 0; i < M; i++ {
			d := float64(bn.x[i*C+c]) - mean
			sq += d * d
		}
		wantMean := 0.1 * mean
		wantVar := 0.9 + 0.1*sq/float64(M-1)
		if math.Abs(float64(bn.runMean[c])-wantMean) > 1e-6 || math.Abs(float64(bn.runVar[c])-wantVar) > 1e-6 {
			t.Errorf("channel %d: running mean %g var %g, want %g %g", c, bn.runMean[c], bn.runVar[c], wantMean, wantVar)
		}
		// Training output uses the biased batch variance.
		for i := 0; i < M; i++ {
			want := float64(bn.gamma.Data[c])*(float64(bn.x[i*C+c])-mean)/math.Sqrt(sq/float64(M)+1e-5) + float64(bn.beta.Data[c])
			if math.Abs(float64(bn.y[i*C+c])-want) > 1e-5 {
				t.Fatalf("channel %d row %d: y %g, want %g", c, i, bn.y[i*C+c], want)
			}
		}
	}
	training = false
	bn.forward(batch)
	for i := 0; i < M; i++ {
		for c := 0; c < C; c++ {
			want := float64(bn.gamma.Data[c])*(float64(bn.x[i*C+c])-float64(bn.runMean[c]))/math.Sqrt(float64(bn.runVar[c])+1e-5) + float64(bn.beta.Data[c])
			if math.Abs(float64(bn.y[i*C+c])-want) > 1e-5 {
				t.Fatalf("eval: y %g, want %g", bn.y[i*C+c], want)
			}
		}
	}
}

// A given thread count is bit-reproducible, and a smaller batch than the
// build's max batch gives the same result as a network built for it.
func TestReproducibleAndSmallBatch(t *testing.T) {
	cfg, _ := Preset("cnmf_1x1")
	in := Shape{3, 28, 28}
	big, _ := Build(cfg, in, 5, Options{Threads: 2}, 4)
	small, _ := Build(cfg, in, 2, Options{Threads: 2}, 4)
	defer big.Close()
	defer small.Close()
	r := rand.New(rand.NewPCG(2, 2))
	x := make([]float32, 5*in.size())
	fillRandom(r, x, 0, 1)
	g := make([]float32, 50)
	fillRandom(r, g, -1, 1)
	run := func(n *Network, batch int) ([]float32, [][]float32) {
		p, err := n.Forward(x, batch)
		if err != nil {
			t.Fatal(err)
		}
		p = append([]float32(nil), p...)
		if err := n.Backward(g); err != nil {
			t.Fatal(err)
		}
		var gs [][]float32
		for _, q := range n.Params() {
			gs = append(gs, append([]float32(nil), q.Grad...))
		}
		return p, gs
	}
	p1, g1 := run(big, 2)
	run(big, 5)
	p2, g2 := run(big, 2)
	p3, g3 := run(small, 2)
	for i := range p1 {
		if p1[i] != p2[i] || p1[i] != p3[i] {
			t.Fatalf("output %d: %g %g %g", i, p1[i], p2[i], p3[i])
		}
	}
	for j := range g1 {
		for i := range g1[j] {
			if g1[j][i] != g2[j][i] || g1[j][i] != g3[j][i] {
				t.Fatalf("param %d grad %d differs: %g %g %g", j, i, g1[j][i], g2[j][i], g3[j][i])
			}
		}
	}
	// More shards than rows in the 1×1 blocks.
	many, _ := Build(cfg, in, 1, Options{Threads: 3}, 4)
	defer many.Close()
	one, _ := Build(cfg, in, 1, Options{Threads: 1}, 4)
	defer one.Close()
	p4, _ := run(many, 1)
	p5, _ := run(one, 1)
	for i := range p4 {
		if d := p4[i] - p5[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("batch 1, 3 threads: output %d = %g, 1 thread %g", i, p4[i], p5[i])
		}
	}
	if _, err := big.Forward(x, 6); err == nil {
		t.Error("a batch above the max batch must be rejected")
	}
	if _, err := big.Forward(x[:10], 1); err == nil {
		t.Error("a short input must be rejected")
	}
}

func TestReLU(t *testing.T) {
	l := newReLU(Shape{5, 1, 1})
	pool := wire(l, 2, 2)
	defer pool.Close()
	nan := float32(math.NaN())
	copy(l.x, []float32{-1, 0, float32(math.Copysign(0, -1)), 2, 1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), nan, -1e-40, 3})
	copy(l.gy, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	l.forward(2)
	l.backward(2)
	wantY := []float32{0, 0, 0, 2, 1e-40, float32(math.Inf(1)), 0, nan, 0, 3}
	wantG := []float32{0, 0, 0, 4, 5, 6, 0, 8, 0, 10}
	for i := range wantY {
		if !(l.y[i] == wantY[i] || (l.y[i] != l.y[i] && wantY[i] != wantY[i])) || math.Signbit(float64(l.y[i])) || l.gx[i] != wantG[i] {
			t.Errorf("x %g: y %g gx %g, want %g %g", l.x[i], l.y[i], l.gx[i], wantY[i], wantG[i])
		}
	}
}
