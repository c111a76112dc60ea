package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nnmf"
)

// InitStream is the PCG stream id of the weight-initialisation random stream
// (the seed is the user's --seed); other streams (shuffling, augmentation) use
// other ids.
const InitStream = 0x696e6974 // "init"

// builder appends layers exactly as the official make_network/append_block do,
// so that layer indices, and hence state_dict keys, are the official ones.
//
// The builder only plans: parameters get their shapes, and their random
// initialisation is queued in inits, so that the memory of the whole network
// can be checked before any sized buffer is made (materialise then runs the
// queue in order, drawing the same random numbers as an eager build).
type builder struct {
	layers   []layer
	params   []*Param
	inits    []func()
	rng      *rand.Rand
	opt      Options
	training *bool
}

func (b *builder) add(l layer) {
	base := l.base()
	base.info.Index = len(b.layers)
	base.info.Out = base.out
	b.layers = append(b.layers, l)
}

func (b *builder) next() int { return len(b.layers) }

// maxElements bounds every parameter and activation tensor: MaxPool records
// argmax offsets as int32, and the bound keeps shape products from
// overflowing, so an absurd config or input shape is an error, not a crash.
const maxElements = math.MaxInt32

// checkElements fails when the product of dims exceeds maxElements; it
// divides instead of multiplying so that the test itself cannot overflow.
func checkElements(what string, dims ...int) error {
	n := 1
	for _, d := range dims {
		if d > 0 && n > maxElements/d {
			return fmt.Errorf("%s %v has more than %d elements", what, dims, maxElements)
		}
		n *= d
	}
	return nil
}

// param declares a parameter; its Data and Grad are made by materialise.
func (b *builder) param(key string, shape []int, g Group) *Param {
	p := &Param{Key: key, Shape: shape, Group: g}
	b.params = append(b.params, p)
	return p
}

// size is the number of values of a parameter's shape.
func (p *Param) size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// materialise allocates every parameter and runs the queued initialisations
// in the order the layers were planned.
func (b *builder) materialise() {
	for _, p := range b.params {
		n := p.size()
		p.Data, p.Grad = make([]float32, n), make([]float32, n)
	}
	for _, f := range b.inits {
		f()
	}
	b.inits = nil
}

// uniform fills p with U[lo, hi).
func (b *builder) uniform(p []float32, lo, hi float32) {
	for i := range p {
		p[i] = lo + (hi-lo)*b.rng.Float32()
	}
}

// addConv appends a 1×1 conv. init "default" is PyTorch's default
// U(±1/√fan_in) for weight and bias; "identity" is the official b-slot init
// [I | 0] + U(±5e-5) with bias U(±5e-5) drawn first.
func (b *builder) addConv(in Shape, out int, bias, positive bool, g Group, identity bool) error {
	idx := b.next()
	if err := checkElements(fmt.Sprintf("layer %d (Conv2d %d→%d): weight", idx, in.C, out), out, in.C); err != nil {
		return err
	}
	l := newConv(in, out, bias, positive)
	wshape := []int{out, in.C, 1, 1}
	if positive {
		if bias {
			l.bias = b.param(fmt.Sprintf("%d.bias", idx), []int{out}, g)
		}
		l.weight = b.param(fmt.Sprintf("%d.parametrizations.weight.original", idx), wshape, g)
	} else {
		l.weight = b.param(fmt.Sprintf("%d.weight", idx), wshape, g)
		if bias {
			l.bias = b.param(fmt.Sprintf("%d.bias", idx), []int{out}, g)
		}
	}
	b.inits = append(b.inits, func() {
		if identity {
			if l.bias != nil {
				b.uniform(l.bias.Data, -5e-5, 5e-5)
			}
			b.uniform(l.weight.Data, -5e-5, 5e-5)
			for k := 0; k < out && k < in.C; k++ {
				l.weight.Data[k*in.C+k] += 1
			}
			if positive {
				for i, v := range l.weight.Data {
					l.weight.Data[i] = float32(math.Abs(float64(v)))
				}
			}
		} else {
			bound := float32(1 / math.Sqrt(float64(in.C)))
			b.uniform(l.weight.Data, -bound, bound)
			if l.bias != nil {
				b.uniform(l.bias.Data, -bound, bound)
			}
		}
	})
	l.info.Params = l.weight.size()
	if l.bias != nil {
		l.info.Params += l.bias.size()
	}
	b.add(l)
	return nil
}

// addNNMF appends an NNMF2d layer with V ~ U[0,1), or the b-slot identity init
// [I | 0] + 1e-4 when identity is set.
func (b *builder) addNNMF(in Shape, out int, g Group, cfg nnmf.Config, identity bool) error {
	cfg.In, cfg.Out = in.C, out
	l, err := newNNMF(in, cfg, b.training)
	if err != nil {
		return fmt.Errorf("layer %d (NNMF2d %d→%d): %w", b.next(), in.C, out, err)
	}
	if err := checkElements(fmt.Sprintf("layer %d (NNMF2d %d→%d): weight", b.next(), in.C, out), out, in.C); err != nil {
		return err
	}
	l.weight = b.param(fmt.Sprintf("%d.weight", b.next()), []int{out, in.C}, g)
	b.inits = append(b.inits, func() {
		if identity {
			for k := 0; k < out; k++ {
				row := l.weight.Data[k*in.C : (k+1)*in.C]
				for d := range row {
					row[d] = 1e-4
				}
				if k < in.C {
					row[k] += 1
				}
			}
		} else {
			b.uniform(l.weight.Data, 0, 1)
		}
	})
	l.info.Params = l.weight.size()
	b.add(l)
	return nil
}

func (b *builder) addBatchNorm(in Shape) {
	l := newBatchNorm(in, b.opt.RunningStats, b.training)
	idx := b.next()
	l.gamma = b.param(fmt.Sprintf("%d.weight", idx), []int{in.C}, GroupBatchNorm)
	l.beta = b.param(fmt.Sprintf("%d.bias", idx), []int{in.C}, GroupBatchNorm)
	b.inits = append(b.inits, func() {
		for i := range l.gamma.Data {
			l.gamma.Data[i] = 1
		}
	})
	l.info.Params = 2 * in.C
	b.add(l)
}

// addPatches appends ReLU, Unfold, Fold and L1Norm: the front of every
// convolutional stage.
func (b *builder) addPatches(cur Shape, kh, kw, sh, sw, ph, pw, dh, dw int) (Shape, error) {
	b.add(newReLU(cur))
	u, err := newUnfold(cur, kh, kw, sh, sw, ph, pw, dh, dw)
	if err != nil {
		return cur, err
	}
	b.add(u)
	cur = u.out
	b.add(newFold(cur, cur.H, cur.W))
	b.add(newL1Norm(cur))
	return cur, nil
}

// Build turns a config into the official layer sequence for input images of
// shape in, with a workspace for batches up to maxBatch, and initialises the
// parameters as the official code does, from the random stream (seed,
// InitStream).
//
// The whole network is planned first and its memory estimated (see
// EstimateMemory); when the estimate exceeds the budget (Options.MaxMemory)
// Build returns a *MemoryLimitError before any sized buffer is made.
func Build(cfg *Config, in Shape, maxBatch int, opt Options, seed uint64) (*Network, error) {
	net, b, err := plan(cfg, in, maxBatch, opt, seed)
	if err != nil {
		return nil, err
	}
	if err := checkBudget(net.estimate(), maxBatch, net.opt); err != nil {
		return nil, err
	}
	b.materialise()
	net.allocate()
	return net, nil
}

// plan walks the config as Build does and returns the network with its
// layers and parameter shapes, but without parameter values or buffers.
func plan(cfg *Config, in Shape, maxBatch int, opt Options, seed uint64) (*Network, *builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("network config: %w", err)
	}
	if in.C < 1 || in.H < 1 || in.W < 1 {
		return nil, nil, fmt.Errorf("nn: input shape %d×%d×%d is not positive", in.C, in.H, in.W)
	}
	if maxBatch < 1 {
		return nil, nil, fmt.Errorf("nn: max batch %d < 1", maxBatch)
	}
	if err := checkElements("nn: input batch", maxBatch, in.C, in.H, in.W); err != nil {
		return nil, nil, err
	}
	if opt.Iterations < 0 {
		return nil, nil, fmt.Errorf("nn: %d NNMF iterations (0 keeps the config's)", opt.Iterations)
	}
	if opt.Threads < 1 {
		opt.Threads = 1
	}
	net := &Network{cfg: cfg, in: in, maxBatch: maxBatch, opt: opt, training: true}
	b := &builder{rng: rand.New(rand.NewPCG(seed, InitStream)), opt: opt, training: &net.training}
	iters := cfg.Iterations
	if opt.Iterations > 0 {
		iters = opt.Iterations
	}
	var eps float32
	if cfg.Epsilon != nil {
		eps = float32(*cfg.Epsilon)
	}
	cur := in
	for i := 0; i < cfg.Blocks(); i++ {
		na, nb := cfg.neurons(i)
		k, s, p, d := cfg.KernelSizeConv[i], cfg.StrideConv[i], cfg.PaddingConv[i], cfg.DilationConv[i]
		kh, kw := k[0], k[1]
		if kh < 1 {
			kh = cur.H
		}
		if kw < 1 {
			kw = cur.W
		}
		var err error
		if cur, err = b.addPatches(cur, kh, kw, s[0], s[1], p[0], p[1], d[0], d[1]); err != nil {
			return nil, nil, fmt.Errorf("network config: block %d: kernel_size_conv: %w", i, err)
		}
		bigMap := cur.H > 1 || cur.W > 1

		switch cfg.TypeOfNeuronA[i] {
		case 1:
			c := nnmf.Config{Iterations: iters, UseEpsilon: cfg.Epsilon != nil, Epsilon: eps, Method: opt.Backward, Precision: opt.Precision,
				LocalLearning: cfg.LocalLearning[i], LocalLearningKL: cfg.LocalLearningKL[i]}
			if err := b.addNNMF(cur, na, GroupNeuronA, c, false); err != nil {
				return nil, nil, err
			}
		case 2:
			if err := b.addConv(cur, na, cfg.BiasNormNeuronA[i], false, GroupNeuronA, false); err != nil {
				return nil, nil, err
			}
		}
		cur.C = na
		if cfg.BatchNormNeuronA[i] && bigMap {
			b.addBatchNorm(cur)
		}

		if tb := cfg.TypeOfNeuronB[i]; tb != 0 {
			b.add(newReLU(cur))
			b.add(newL1Norm(cur))
			switch tb {
			case 1:
				c := nnmf.Config{Iterations: iters, UseEpsilon: cfg.Epsilon != nil, Epsilon: eps, Method: opt.Backward, Precision: opt.Precision,
					LocalLearning: cfg.LocalLearning[i], LocalLearningKL: cfg.LocalLearningKL[i]}
				if err := b.addNNMF(cur, nb, GroupNeuronB, c, na >= nb); err != nil {
					return nil, nil, err
				}
			case 2, 3:
				if err := b.addConv(cur, nb, cfg.BiasNormNeuronB[i], tb == 3, GroupNeuronB, true); err != nil {
					return nil, nil, err
				}
			}
			cur.C = nb
			if cfg.BatchNormNeuronB[i] && bigMap {
				b.addBatchNorm(cur)
			}
		}

		if cfg.poolActive(i) {
			k, s, p, d := cfg.KernelSizePool[i], cfg.StridePool[i], cfg.PaddingPool[i], cfg.DilationPool[i]
			switch cfg.TypeOfPooling[i] {
			case 1, 2:
				l, err := newPool(cur, cfg.TypeOfPooling[i] == 2, k[0], k[1], s[0], s[1], p[0], p[1])
				if err != nil {
					return nil, nil, fmt.Errorf("network config: block %d: kernel_size_pool: %w", i, err)
				}
				b.add(l)
				cur = l.out
			case 3, 4:
				ch := cur.C
				if cur, err = b.addPatches(cur, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]); err != nil {
					return nil, nil, fmt.Errorf("network config: block %d: kernel_size_pool: %w", i, err)
				}
				if cur.H == 1 && cur.W == 1 {
					return nil, nil, fmt.Errorf("network config: block %d: type_of_pooling %d gives a 1×1 map, where its always-present BatchNorm has one value per channel (the official builder fails too, spec §6 item 28)", i, cfg.TypeOfPooling[i])
				}
				if cfg.TypeOfPooling[i] == 3 {
					if err := b.addConv(cur, ch, false, false, GroupPool, false); err != nil {
						return nil, nil, err
					}
				} else {
					c := nnmf.Config{Iterations: cfg.poolingIterations(), UseEpsilon: cfg.Epsilon != nil, Epsilon: eps, Method: opt.Backward, Precision: opt.Precision,
						LocalLearning: cfg.LocalLearningPooling[i], LocalLearningKL: cfg.LocalLearningUseKLPooling[i]}
					if err := b.addNNMF(cur, ch, GroupPool, c, false); err != nil {
						return nil, nil, err
					}
				}
				cur.C = ch
				b.addBatchNorm(cur)
			}
		}
	}
	if cur.H != 1 || cur.W != 1 {
		return nil, nil, fmt.Errorf("network config: the last block ends with a %d×%d map; the output needs a 1×1 map whose channels are the classes (set kernel sizes or pooling so that the map shrinks to 1×1)", cur.H, cur.W)
	}
	b.add(newSoftmax(cur))
	b.add(newFlatten(cur))
	for _, l := range b.layers {
		bl := l.base()
		if err := checkElements(fmt.Sprintf("layer %d (%s): output for batch %d", bl.info.Index, bl.info.Type, maxBatch), maxBatch, bl.out.C, bl.out.H, bl.out.W); err != nil {
			return nil, nil, err
		}
	}

	net.layers, net.params = b.layers, b.params
	return net, b, nil
}

// allocate wires activation buffers, the two alternating gradient buffers and
// each layer's per-shard scratch for the max batch.
func (n *Network) allocate() {
	n.pool = kernels.NewPool(n.opt.Threads)
	shards := n.pool.Shards()
	var x []float32 // the first layer's input is the caller's batch, set by Forward
	if u, ok := n.layers[1].(*unfoldLayer); ok {
		u.nchwInput = true
	}
	maxGrad := 0
	n.firstGrad = len(n.layers)
	for i, l := range n.layers {
		b := l.base()
		b.pool = n.pool
		b.shardErrs = make([]error, shards)
		b.x = x
		if i == 0 {
			b.nchw = true
		}
		if b.identity {
			b.y = x
		} else {
			b.y = make([]float32, n.maxBatch*b.out.size())
		}
		x = b.y
		maxGrad = max(maxGrad, n.maxBatch*b.in.size(), n.maxBatch*b.out.size())
		if b.info.Params > 0 && n.firstGrad == len(n.layers) {
			n.firstGrad = i
		}
		switch l := l.(type) {
		case *convLayer:
			l.allocate(shards)
		case *batchNormLayer:
			l.allocate(shards)
		case *nnmfLayer:
			l.allocate(shards, n.maxBatch*b.in.H*b.in.W)
		case *poolLayer:
			if l.maxPool {
				l.argmax = make([]int32, n.maxBatch*b.out.size())
			}
		}
	}
	if n.firstGrad < len(n.layers) {
		n.layers[n.firstGrad].base().skipGX = true
	}
	grads := [2][]float32{make([]float32, maxGrad), make([]float32, maxGrad)}
	cur := 0
	for i := len(n.layers) - 1; i >= 0; i-- {
		b := n.layers[i].base()
		b.gy = grads[cur][:n.maxBatch*b.out.size()]
		if !b.identity {
			cur ^= 1
		}
		b.gx = grads[cur][:n.maxBatch*b.in.size()]
	}
	n.gradOut = n.layers[len(n.layers)-1].base().gy
}
