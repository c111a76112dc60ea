package nn

import (
	"fmt"
	"math"

	"github.com/deepnmf/deepnmf/kernels"
)

// Every layer works on channels-last activations: a row-major rows × C matrix
// with rows = batch·H·W in (n, h, w) order. x and y are the layer's input and
// output buffers (sized for the network's max batch), gx and gy the gradients
// with respect to them. Shard functions are bound once at build time so that
// pool.Run allocates nothing; they read the current batch from the layer.

type layer interface {
	forward(batch int) error
	backward(batch int) error
	base() *layerBase
}

type layerBase struct {
	info      LayerInfo
	in, out   Shape
	x, y      []float32
	gx, gy    []float32
	pool      *kernels.Pool
	identity  bool // output aliases the input (Fold, Flatten)
	nchw      bool // output stored NCHW: the first layer, which acts on the network input
	skipGX    bool // nothing upstream needs ∂L/∂x
	batch     int
	shardErrs []error
}

func (b *layerBase) base() *layerBase { return b }

func (b *layerBase) rowsIn() int { return b.batch * b.in.H * b.in.W }

// span returns shard s's half-open share of n items.
func (b *layerBase) span(n, s int) (int, int) { return kernels.Span(n, b.pool.Shards(), s) }

func (b *layerBase) firstErr() error {
	for s, err := range b.shardErrs {
		if err != nil {
			b.shardErrs[s] = nil
			return fmt.Errorf("layer %d (%s): %w", b.info.Index, b.info.Type, err)
		}
	}
	return nil
}

// shardedLayer is a layer whose forward and backward are each one run of a
// shard function over the pool.
type shardedLayer struct {
	layerBase
	fwd, bwd func(shard int)
}

func (l *shardedLayer) forward(batch int) error {
	l.batch = batch
	l.pool.Run(l.fwd)
	return l.firstErr()
}

func (l *shardedLayer) backward(batch int) error {
	if l.skipGX {
		return nil
	}
	l.batch = batch
	l.pool.Run(l.bwd)
	return l.firstErr()
}

// ---------------------------------------------------------------- ReLU

type reluLayer struct{ shardedLayer }

func newReLU(in Shape) *reluLayer {
	l := &reluLayer{}
	l.in, l.out = in, in
	l.info.Type, l.info.Desc = "ReLU", "ReLU()"
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l
}

func (l *reluLayer) forwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	c := l.in.C
	// Same lengths by construction: ReLU cannot fail here.
	_ = kernels.ReLU(l.y[lo*c:hi*c], l.x[lo*c:hi*c])
}

func (l *reluLayer) backwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	c := l.in.C
	// y = max(x, 0) is +0 or has a positive bit pattern, so "y > 0 as an
	// int32" is "x > 0", and a NaN passes the gradient, as in PyTorch.
	kernels.ReLUGrad(l.gx[lo*c:hi*c], l.gy[lo*c:hi*c], l.y[lo*c:hi*c])
}

// ---------------------------------------------------------------- Unfold

// unfoldLayer turns every kh×kw patch into the channels of one output row,
// channel index c·kh·kw + i·kw + j as PyTorch's Unfold. Out-of-range
// positions (padding) read as zero. The network's first Unfold reads the NCHW
// input directly; every other one reads channels-last rows.
type unfoldLayer struct {
	shardedLayer
	geom      kernels.UnfoldGeom // N is set per shard
	nchwInput bool
}

func newUnfold(in Shape, kh, kw, sh, sw, ph, pw, dh, dw int) (*unfoldLayer, error) {
	g := kernels.UnfoldGeom{C: in.C, H: in.H, W: in.W, KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("kernel %d×%d (dilation %d×%d, padding %d×%d) does not fit the %d×%d map: %w", kh, kw, dh, dw, ph, pw, in.H, in.W, err)
	}
	l := &unfoldLayer{geom: g}
	l.in = in
	l.out = Shape{g.Cols(), g.OutH(), g.OutW()}
	l.info.Type = "Unfold"
	l.info.Desc = fmt.Sprintf("Unfold(kernel_size=(%d, %d), dilation=[%d, %d], padding=[%d, %d], stride=[%d, %d])", kh, kw, dh, dw, ph, pw, sh, sw)
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l, nil
}

// Shards split the batch by sample: patches of different samples never share
// input positions, so the backward's accumulation needs no synchronisation.
func (l *unfoldLayer) forwardShard(s int) {
	lo, hi := l.span(l.batch, s)
	g := l.geom
	g.N = hi - lo
	in, out := l.in.size(), l.out.size()
	if l.nchwInput {
		l.shardErrs[s] = kernels.UnfoldNCHW(g, l.x[lo*in:hi*in], l.y[lo*out:hi*out])
	} else {
		l.shardErrs[s] = kernels.UnfoldRows(g, l.x[lo*in:hi*in], l.y[lo*out:hi*out])
	}
}

func (l *unfoldLayer) backwardShard(s int) {
	lo, hi := l.span(l.batch, s)
	g := l.geom
	g.N = hi - lo
	in, out := l.in.size(), l.out.size()
	gx := l.gx[lo*in : hi*in]
	clear(gx)
	if l.nchwInput {
		l.shardErrs[s] = kernels.FoldNCHW(g, l.gy[lo*out:hi*out], gx)
	} else {
		l.shardErrs[s] = kernels.FoldRows(g, l.gy[lo*out:hi*out], gx)
	}
}

// ---------------------------------------------------------------- Fold, Flatten

// identityLayer is the official Fold (a reshape of the Unfold output to a map)
// and Flatten (of a 1×1 map): in channels-last storage both are no-ops.
type identityLayer struct{ layerBase }

func newFold(in Shape, ho, wo int) *identityLayer {
	l := &identityLayer{}
	l.in, l.out = in, Shape{in.C, ho, wo}
	l.identity = true
	l.info.Type = "Fold"
	l.info.Desc = fmt.Sprintf("Fold(output_size=[%d, %d], kernel_size=(1, 1), dilation=1, padding=0, stride=1)", ho, wo)
	return l
}

func newFlatten(in Shape) *identityLayer {
	l := &identityLayer{}
	l.in, l.out = in, Shape{in.C * in.H * in.W, 1, 1}
	l.identity = true
	l.info.Type, l.info.Desc = "Flatten", "Flatten(start_dim=1, end_dim=-1)"
	return l
}

func (l *identityLayer) forward(int) error  { return nil }
func (l *identityLayer) backward(int) error { return nil }

// ---------------------------------------------------------------- L1Norm

// l1NormLayer divides every row by its sum: y = x / (Σx + 1e-19), the
// official literal 10e-20 (kernels.NormGuard).
type l1NormLayer struct{ shardedLayer }

func newL1Norm(in Shape) *l1NormLayer {
	l := &l1NormLayer{}
	l.in, l.out = in, in
	l.info.Type, l.info.Desc = "L1NormLayer", "L1NormLayer()"
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l
}

func (l *l1NormLayer) forwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	kernels.L1NormRows(l.y[lo*C:hi*C], l.x[lo*C:hi*C], hi-lo, C)
}

// backwardShard: ∂L/∂x_j = (g_j − Σ_c g_c y_c) / (Σx + 1e-19).
func (l *l1NormLayer) backwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	kernels.L1NormRowsBackward(l.gx[lo*C:hi*C], l.gy[lo*C:hi*C], l.x[lo*C:hi*C], l.y[lo*C:hi*C], hi-lo, C)
}

// ---------------------------------------------------------------- Conv 1×1

// convLayer is a 1×1 convolution y = x·Wᵀ + b over the channels of each row
// (W is out × in, the official [out, in, 1, 1] weight). With positive set it is
// the official positive conv: the effective weight is |V| of the raw V.
type convLayer struct {
	layerBase
	weight, bias *Param
	positive     bool
	weff         []float32   // |V| for the positive conv, else the weight itself
	gwParts      [][]float32 // per-shard ∂L/∂W partials (shard 0 may alias the result)
	gbParts      [][]float64 // per-shard ∂L/∂b partials
	gweff        []float32   // reduced ∂L/∂|V| for the positive conv
	fwd, bwd     func(int)
}

func newConv(in Shape, out int, bias, positive bool) *convLayer {
	l := &convLayer{positive: positive}
	l.in, l.out = in, Shape{out, in.H, in.W}
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	if positive {
		l.info.Type = "ParametrizedConv2d"
		l.info.Desc = fmt.Sprintf("ParametrizedConv2d(%d, %d, kernel_size=(1, 1), stride=(1, 1), weight=|original|)", in.C, out)
	} else {
		l.info.Type = "Conv2d"
		l.info.Desc = fmt.Sprintf("Conv2d(%d, %d, kernel_size=(1, 1), stride=(1, 1))", in.C, out)
		if !bias {
			l.info.Desc = fmt.Sprintf("Conv2d(%d, %d, kernel_size=(1, 1), stride=(1, 1), bias=False)", in.C, out)
		}
	}
	return l
}

// allocate sizes the gradient partials once the pool is known.
func (l *convLayer) allocate(shards int) {
	nw := l.out.C * l.in.C
	if l.positive {
		l.weff = make([]float32, nw)
		l.gweff = make([]float32, nw)
	} else {
		l.weff = l.weight.Data
	}
	l.gwParts = make([][]float32, shards)
	for s := range l.gwParts {
		switch {
		case s == 0 && shards == 1 && !l.positive:
			l.gwParts[s] = l.weight.Grad
		case s == 0 && shards == 1:
			l.gwParts[s] = l.gweff
		default:
			l.gwParts[s] = make([]float32, nw)
		}
	}
	if l.bias != nil {
		l.gbParts = make([][]float64, shards)
		for s := range l.gbParts {
			l.gbParts[s] = make([]float64, l.out.C)
		}
	}
}

func (l *convLayer) forward(batch int) error {
	l.batch = batch
	if l.positive {
		for i, v := range l.weight.Data {
			l.weff[i] = float32(math.Abs(float64(v)))
		}
	}
	l.pool.Run(l.fwd)
	return nil
}

func (l *convLayer) forwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	if hi == lo {
		return
	}
	ci, co := l.in.C, l.out.C
	y := l.y[lo*co : hi*co]
	kernels.Sgemm(false, true, hi-lo, co, ci, 1, l.x[lo*ci:hi*ci], ci, l.weff, ci, 0, y, co)
	if l.bias != nil {
		b := l.bias.Data[:co]
		for r := 0; r < hi-lo; r++ {
			row := y[r*co : (r+1)*co]
			for j, v := range b {
				row[j] += v
			}
		}
	}
}

func (l *convLayer) backward(batch int) error {
	l.batch = batch
	l.pool.Run(l.bwd)
	shards := l.pool.Shards()
	gw := l.weight.Grad
	if l.positive {
		gw = l.gweff
	}
	if shards > 1 {
		copy(gw, l.gwParts[0])
		for s := 1; s < shards; s++ {
			for i, v := range l.gwParts[s] {
				gw[i] += v
			}
		}
	}
	if l.positive {
		// d|v|/dv = sign(v), 0 at 0, as PyTorch's abs backward.
		for i, v := range l.weight.Data {
			switch {
			case v > 0:
				l.weight.Grad[i] = gw[i]
			case v < 0:
				l.weight.Grad[i] = -gw[i]
			default:
				l.weight.Grad[i] = 0
			}
		}
	}
	if l.bias != nil {
		for j := range l.bias.Grad {
			var sum float64
			for s := 0; s < shards; s++ {
				sum += l.gbParts[s][j]
			}
			l.bias.Grad[j] = float32(sum)
		}
	}
	return nil
}

func (l *convLayer) backwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	ci, co := l.in.C, l.out.C
	gw := l.gwParts[s]
	if hi == lo {
		clear(gw)
		if l.bias != nil {
			clear(l.gbParts[s])
		}
		return
	}
	gy := l.gy[lo*co : hi*co]
	kernels.Sgemm(true, false, co, ci, hi-lo, 1, gy, co, l.x[lo*ci:hi*ci], ci, 0, gw, ci)
	if l.bias != nil {
		gb := l.gbParts[s]
		clear(gb)
		for r := 0; r < hi-lo; r++ {
			for j, v := range gy[r*co : (r+1)*co] {
				gb[j] += float64(v)
			}
		}
	}
	if !l.skipGX {
		kernels.Sgemm(false, false, hi-lo, ci, co, 1, gy, co, l.weff, ci, 0, l.gx[lo*ci:hi*ci], ci)
	}
}

// ---------------------------------------------------------------- BatchNorm2d

const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// batchNormLayer is BatchNorm2d with affine γ, β. By default it normalises with
// the batch statistics (biased variance) in training and evaluation alike, as
// the official track_running_stats=False. With running statistics enabled it
// keeps PyTorch's running mean and unbiased running variance and uses them
// when not training.
type batchNormLayer struct {
	layerBase
	gamma, beta *Param
	running     bool
	training    *bool // the network's mode
	runMean     []float32
	runVar      []float32

	mean, invStd []float32 // statistics of the last forward
	scale, shift []float32 // y = x·scale + shift
	parts        [][]float64
	meanG        []float32 // reduced Σgy / M and Σgy·x̂ / M, rounded once
	meanGX       []float32 // for the gradient apply
	useBatch     bool      // the last forward used batch statistics

	statFwd, applyFwd, statBwd, applyBwd func(int)
}

func newBatchNorm(in Shape, running bool, training *bool) *batchNormLayer {
	l := &batchNormLayer{running: running, training: training}
	l.in, l.out = in, in
	C := in.C
	l.info.Type = "BatchNorm2d"
	l.info.Desc = fmt.Sprintf("BatchNorm2d(%d, eps=1e-05, momentum=0.1, affine=True, track_running_stats=%s)", C, pyBool(running))
	l.statFwd, l.applyFwd = l.statsShard, l.applyShard
	l.statBwd, l.applyBwd = l.gradStatsShard, l.gradApplyShard
	return l
}

// allocate makes the per-channel statistics and the per-shard partial sums
// (after the network's memory was checked, see Build).
func (l *batchNormLayer) allocate(shards int) {
	C := l.in.C
	l.mean, l.invStd = make([]float32, C), make([]float32, C)
	l.scale, l.shift = make([]float32, C), make([]float32, C)
	l.meanG, l.meanGX = make([]float32, C), make([]float32, C)
	if l.running {
		l.runMean, l.runVar = make([]float32, C), make([]float32, C)
		for i := range l.runVar {
			l.runVar[i] = 1
		}
	}
	l.parts = make([][]float64, shards)
	for s := range l.parts {
		l.parts[s] = make([]float64, 2*l.in.C)
	}
}

func (l *batchNormLayer) forward(batch int) error {
	l.batch = batch
	C := l.in.C
	l.useBatch = !l.running || *l.training
	if l.useBatch {
		l.pool.Run(l.statFwd)
		m := float64(l.rowsIn())
		for c := 0; c < C; c++ {
			var sum, sq float64
			for _, p := range l.parts {
				sum += p[c]
				sq += p[C+c]
			}
			mean := sum / m
			v := max(sq/m-mean*mean, 0)
			l.mean[c] = float32(mean)
			l.invStd[c] = float32(1 / math.Sqrt(v+bnEps))
			if l.running && *l.training {
				unbiased := v
				if m > 1 {
					unbiased = v * m / (m - 1)
				}
				l.runMean[c] = float32((1-bnMomentum)*float64(l.runMean[c]) + bnMomentum*mean)
				l.runVar[c] = float32((1-bnMomentum)*float64(l.runVar[c]) + bnMomentum*unbiased)
			}
		}
	} else {
		for c := 0; c < C; c++ {
			l.mean[c] = l.runMean[c]
			l.invStd[c] = float32(1 / math.Sqrt(float64(l.runVar[c])+bnEps))
		}
	}
	for c := 0; c < C; c++ {
		l.scale[c] = l.gamma.Data[c] * l.invStd[c]
		l.shift[c] = l.beta.Data[c] - l.mean[c]*l.scale[c]
	}
	l.pool.Run(l.applyFwd)
	return nil
}

// statsShard sums x and x² per channel in float64: the cancellation in
// E[x²] − E[x]² stays far below float32 resolution.
func (l *batchNormLayer) statsShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	p := l.parts[s]
	clear(p)
	kernels.BatchNormStats(p[:C], p[C:2*C], l.x[lo*C:hi*C], hi-lo, C)
}

func (l *batchNormLayer) applyShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	kernels.ScaleShiftRows(l.y[lo*C:hi*C], l.x[lo*C:hi*C], hi-lo, C, l.scale, l.shift)
}

func (l *batchNormLayer) backward(batch int) error {
	l.batch = batch
	C := l.in.C
	l.pool.Run(l.statBwd)
	m := float64(l.rowsIn())
	for c := 0; c < C; c++ {
		var sg, sgx float64
		for _, p := range l.parts {
			sg += p[c]
			sgx += p[C+c]
		}
		l.meanG[c], l.meanGX[c] = float32(sg/m), float32(sgx/m)
		l.beta.Grad[c] = float32(sg)
		l.gamma.Grad[c] = float32(sgx)
	}
	if !l.skipGX {
		l.pool.Run(l.applyBwd)
	}
	return nil
}

func (l *batchNormLayer) gradStatsShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	p := l.parts[s]
	clear(p)
	kernels.BatchNormGradStats(p[:C], p[C:2*C], l.x[lo*C:hi*C], l.gy[lo*C:hi*C], l.mean, l.invStd, hi-lo, C)
}

// gradApplyShard: with batch statistics ∂L/∂x = γ·σ⁻¹·(g − Σg/M − x̂·Σg·x̂/M);
// with running statistics the normalisation is a constant affine map.
func (l *batchNormLayer) gradApplyShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	mean, inv, scale := l.mean[:C], l.invStd[:C], l.scale[:C]
	if !l.useBatch {
		for r := lo; r < hi; r++ {
			gy, gx := l.gy[r*C:(r+1)*C], l.gx[r*C:(r+1)*C]
			for c, g := range gy {
				gx[c] = g * scale[c]
			}
		}
		return
	}
	kernels.BatchNormGradRows(l.gx[lo*C:hi*C], l.gy[lo*C:hi*C], l.x[lo*C:hi*C], hi-lo, C, mean, inv, scale, l.meanG, l.meanGX)
}

// ---------------------------------------------------------------- Pooling

// poolLayer is AvgPool2d (count_include_pad, floor mode) or MaxPool2d. Windows
// may overlap, so the backward splits the work by sample.
type poolLayer struct {
	shardedLayer
	maxPool                bool
	kh, kw, sh, sw, ph, pw int
	argmax                 []int32 // input row of each output element's maximum (max pooling)
}

func newPool(in Shape, maxPool bool, kh, kw, sh, sw, ph, pw int) (*poolLayer, error) {
	ho := (in.H+2*ph-kh)/sh + 1
	wo := (in.W+2*pw-kw)/sw + 1
	if in.H+2*ph-kh < 0 || in.W+2*pw-kw < 0 {
		return nil, fmt.Errorf("pool kernel %d×%d (padding %d×%d) does not fit the %d×%d map", kh, kw, ph, pw, in.H, in.W)
	}
	l := &poolLayer{maxPool: maxPool, kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw}
	l.in, l.out = in, Shape{in.C, ho, wo}
	if maxPool {
		l.info.Type = "MaxPool2d"
		l.info.Desc = fmt.Sprintf("MaxPool2d(kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d), dilation=1, ceil_mode=False)", kh, kw, sh, sw, ph, pw)
	} else {
		l.info.Type = "AvgPool2d"
		l.info.Desc = fmt.Sprintf("AvgPool2d(kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d))", kh, kw, sh, sw, ph, pw)
	}
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l, nil
}

func (l *poolLayer) forwardShard(s int) {
	lo, hi := l.span(l.batch, s)
	C, H, W := l.in.C, l.in.H, l.in.W
	Ho, Wo := l.out.H, l.out.W
	inv := 1 / float32(l.kh*l.kw)
	for r := lo * Ho * Wo; r < hi*Ho*Wo; r++ {
		n, rem := r/(Ho*Wo), r%(Ho*Wo)
		oh, ow := rem/Wo, rem%Wo
		y := l.y[r*C : (r+1)*C]
		var arg []int32
		if l.maxPool {
			arg = l.argmax[r*C : (r+1)*C]
			for c := range y {
				y[c] = float32(math.Inf(-1))
				arg[c] = -1
			}
		} else {
			clear(y)
		}
		for i := 0; i < l.kh; i++ {
			ih := oh*l.sh - l.ph + i
			if ih < 0 || ih >= H {
				continue
			}
			for j := 0; j < l.kw; j++ {
				iw := ow*l.sw - l.pw + j
				if iw < 0 || iw >= W {
					continue
				}
				src := (n*H+ih)*W + iw
				x := l.x[src*C : (src+1)*C]
				if l.maxPool {
					for c, v := range x {
						if v > y[c] || arg[c] < 0 {
							y[c], arg[c] = v, int32(src)
						}
					}
				} else {
					for c, v := range x {
						y[c] += v
					}
				}
			}
		}
		if !l.maxPool {
			for c := range y {
				y[c] *= inv
			}
		}
	}
}

func (l *poolLayer) backwardShard(s int) {
	lo, hi := l.span(l.batch, s)
	C, H, W := l.in.C, l.in.H, l.in.W
	Ho, Wo := l.out.H, l.out.W
	clear(l.gx[lo*H*W*C : hi*H*W*C])
	inv := 1 / float32(l.kh*l.kw)
	for r := lo * Ho * Wo; r < hi*Ho*Wo; r++ {
		gy := l.gy[r*C : (r+1)*C]
		if l.maxPool {
			arg := l.argmax[r*C : (r+1)*C]
			for c, g := range gy {
				if a := int(arg[c]); a >= 0 {
					l.gx[a*C+c] += g
				}
			}
			continue
		}
		n, rem := r/(Ho*Wo), r%(Ho*Wo)
		oh, ow := rem/Wo, rem%Wo
		for i := 0; i < l.kh; i++ {
			ih := oh*l.sh - l.ph + i
			if ih < 0 || ih >= H {
				continue
			}
			for j := 0; j < l.kw; j++ {
				iw := ow*l.sw - l.pw + j
				if iw < 0 || iw >= W {
					continue
				}
				dst := (n*H+ih)*W + iw
				gx := l.gx[dst*C : (dst+1)*C]
				for c, g := range gy {
					gx[c] += g * inv
				}
			}
		}
	}
}

// ---------------------------------------------------------------- Softmax

// softmaxLayer is Softmax over the channels of each row, with max subtraction.
type softmaxLayer struct{ shardedLayer }

func newSoftmax(in Shape) *softmaxLayer {
	l := &softmaxLayer{}
	l.in, l.out = in, in
	l.info.Type, l.info.Desc = "Softmax", "Softmax(dim=1)"
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l
}

func (l *softmaxLayer) forwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	for r := lo; r < hi; r++ {
		x, y := l.x[r*C:(r+1)*C], l.y[r*C:(r+1)*C]
		m := x[0]
		for _, v := range x {
			m = max(m, v)
		}
		var sum float32
		for c, v := range x {
			e := float32(math.Exp(float64(v - m)))
			y[c] = e
			sum += e
		}
		inv := 1 / sum
		for c := range y {
			y[c] *= inv
		}
	}
}

// backwardShard: ∂L/∂x = y ⊙ (g − Σ g·y).
func (l *softmaxLayer) backwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	C := l.in.C
	for r := lo; r < hi; r++ {
		y, gy, gx := l.y[r*C:(r+1)*C], l.gy[r*C:(r+1)*C], l.gx[r*C:(r+1)*C]
		var dot float32
		for c, v := range y {
			dot += v * gy[c]
		}
		for c, v := range y {
			gx[c] = v * (gy[c] - dot)
		}
	}
}
