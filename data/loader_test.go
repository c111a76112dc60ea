package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// synthSplit makes n random images of the dataset's geometry with labels
// i mod 10.
func synthSplit(info Info, n int, seed uint64) *Split {
	rng := rand.New(rand.NewPCG(seed, 9))
	s := &Split{N: n, C: info.Channels, H: info.Size, W: info.Size}
	s.Images = make([]uint8, n*s.ImageSize())
	for i := range s.Images {
		s.Images[i] = uint8(rng.UintN(256))
	}
	s.Labels = make([]uint8, n)
	for i := range s.Labels {
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

func newLoader(t testing.TB, info Info, s *Split, cfg LoaderConfig) *Loader {
	t.Helper()
	l, err := NewLoader(info, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fillEpoch draws every batch of an epoch into one slice.
func fillEpoch(t testing.TB, l *Loader, epoch int) ([]float32, []int) {
	t.Helper()
	c, h, w := l.Shape()
	x := make([]float32, l.BatchSize()*c*h*w)
	lb := make([]int, l.BatchSize())
	var xs []float32
	var ls []int
	for b := range l.NumBatches() {
		n, err := l.Fill(epoch, b, x, lb)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x[:n*c*h*w]...)
		ls = append(ls, lb[:n]...)
	}
	return xs, ls
}

// The evaluation loader is the files in order, center-cropped, /255.
func TestEvalLoader(t *testing.T) {
	for _, name := range Names() {
		info := mustInfo(name)
		s := synthSplit(info, 23, 1)
		cfg := EvalConfig()
		cfg.BatchSize = 5
		l := newLoader(t, info, s, cfg)
		if l.NumBatches() != 5 {
			t.Fatalf("%s: %d batches", name, l.NumBatches())
		}
		xs, ls := fillEpoch(t, l, 0)
		crop, off := info.Crop, (info.Size-info.Crop)/2
		for i := range s.N {
			if ls[i] != int(s.Labels[i]) {
				t.Fatalf("%s: label %d", name, i)
			}
			for c := range info.Channels {
				for y := range crop {
					for x := range crop {
						want := float32(s.Images[((i*info.Channels+c)*info.Size+y+off)*info.Size+x+off]) / 255
						if got := xs[((i*info.Channels+c)*crop+y)*crop+x]; got != want {
							t.Fatalf("%s: image %d (%d,%d,%d) = %v, want %v", name, i, c, y, x, got, want)
						}
					}
				}
			}
		}
	}
}

func isPermutation(order []int) bool {
	seen := make([]bool, len(order))
	for _, v := range order {
		if v < 0 || v >= len(order) || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

func TestShuffle(t *testing.T) {
	info := mustInfo("mnist")
	s := synthSplit(info, 1000, 2)
	l := newLoader(t, info, s, TrainConfig(21))
	o0, o1 := l.Order(0), l.Order(1)
	if !isPermutation(o0) || !isPermutation(o1) {
		t.Fatal("an epoch order is not a permutation")
	}
	if slices.Equal(o0, o1) {
		t.Fatal("epochs 0 and 1 share their order")
	}
	if slices.Equal(o0, newLoader(t, info, s, EvalConfig()).Order(0)) {
		t.Fatal("the training order is the file order")
	}
	if !slices.Equal(o0, newLoader(t, info, s, TrainConfig(21)).Order(0)) {
		t.Fatal("the same seed gave another order")
	}
	if slices.Equal(o0, newLoader(t, info, s, TrainConfig(22)).Order(0)) {
		t.Fatal("another seed gave the same order")
	}
	// Every image is visited once per epoch through Fill too.
	_, ls := fillEpoch(t, l, 3)
	counts := make([]int, 10)
	for _, v := range ls {
		counts[v]++
	}
	for k, c := range counts {
		if c != 100 {
			t.Fatalf("class %d seen %d times in an epoch", k, c)
		}
	}
	// Limit: the first N images only.
	cfg := TrainConfig(21)
	cfg.Limit = 120
	lim := newLoader(t, info, s, cfg)
	if lim.Len() != 120 || lim.NumBatches() != 3 || !isPermutation(lim.Order(0)) {
		t.Fatalf("limit: len %d, %d batches", lim.Len(), lim.NumBatches())
	}
	c, h, w := lim.Shape()
	x, lb := make([]float32, 50*c*h*w), make([]int, 50)
	if n, err := lim.Fill(0, 2, x, lb); err != nil || n != 20 {
		t.Fatalf("last batch: %d images, %v", n, err)
	}
}

// Resuming at an epoch or batch boundary reproduces the uninterrupted run:
// a batch depends only on (seed, epoch, batch).
func TestResumeReproduces(t *testing.T) {
	info := mustInfo("cifar10")
	s := synthSplit(info, 160, 3)
	for _, mode := range []AugmentMode{AugmentPerBatch, AugmentPerImage} {
		cfg := TrainConfig(7)
		cfg.Augment = mode
		run := newLoader(t, info, s, cfg)
		fillEpoch(t, run, 0)
		x1, l1 := fillEpoch(t, run, 1)
		resumed := newLoader(t, info, s, cfg)
		x2, l2 := fillEpoch(t, resumed, 1)
		if !slices.Equal(x1, x2) || !slices.Equal(l1, l2) {
			t.Fatalf("%v: epoch 1 after epoch 0 differs from epoch 1 of a fresh loader", mode)
		}
		// Mid-epoch, in any order.
		c, h, w := resumed.Shape()
		size := 50 * c * h * w
		x, lb := make([]float32, size), make([]int, 50)
		for _, b := range []int{2, 0, 1} {
			n, err := resumed.Fill(1, b, x, lb)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x[:n*c*h*w], x1[b*size:b*size+n*c*h*w]) {
				t.Fatalf("%v: batch %d drawn alone differs", mode, b)
			}
		}
		other := TrainConfig(8)
		other.Augment = mode
		x3, _ := fillEpoch(t, newLoader(t, info, s, other), 1)
		if slices.Equal(x1, x3) {
			t.Fatalf("%v: seeds 7 and 8 gave the same epoch", mode)
		}
	}
}

// windowOf finds (top, left, flip) such that out is that crop of img, or
// reports false. Used on MNIST-style and un-jittered data only.
func windowOf(out []float32, img []uint8, c, size, crop int, flips bool) (int, int, bool, bool) {
	tmp := make([]float32, len(out))
	for top := 0; top <= size-crop; top++ {
		for left := 0; left <= size-crop; left++ {
			for _, flip := range []bool{false, true} {
				if flip && !flips {
					continue
				}
				cropBytes(tmp, img, c, size, size, top, left, crop, crop, flip)
				if slices.Equal(tmp, out) {
					return top, left, flip, true
				}
			}
		}
	}
	return 0, 0, false, false
}

// In per-batch mode all images share one crop; in per-image mode they do
// not; every crop offset is reachable.
func TestCropDraws(t *testing.T) {
	info := mustInfo("mnist")
	s := synthSplit(info, 200, 4)
	size := info.Crop * info.Crop
	for _, mode := range []AugmentMode{AugmentPerBatch, AugmentPerImage} {
		cfg := TrainConfig(5)
		cfg.Augment = mode
		l := newLoader(t, info, s, cfg)
		order := l.Order(0)
		xs, _ := fillEpoch(t, l, 0)
		seen := map[[2]int]bool{}
		for b := range l.NumBatches() {
			var first [2]int
			same := true
			for k := range 50 {
				i := b*50 + k
				top, left, _, ok := windowOf(xs[i*size:(i+1)*size], s.Image(order[i]), 1, info.Size, info.Crop, false)
				if !ok {
					t.Fatalf("%v: image %d is no crop of its source", mode, i)
				}
				seen[[2]int{top, left}] = true
				if k == 0 {
					first = [2]int{top, left}
				} else if first != [2]int{top, left} {
					same = false
				}
			}
			if mode == AugmentPerBatch && !same {
				t.Fatalf("per-batch mode: batch %d mixes crops", b)
			}
			if mode == AugmentPerImage && same {
				t.Fatalf("per-image mode: batch %d has one crop for 50 images", b)
			}
		}
		if mode == AugmentPerImage && len(seen) != 25 {
			t.Fatalf("per-image mode: %d of 25 crop offsets seen in 200 draws", len(seen))
		}
	}
}

// Identical images in a batch stay identical in per-batch mode (the check
// spec §3.1 reports for the official code), and differ per image.
func TestPerBatchSharesJitter(t *testing.T) {
	info := mustInfo("cifar10")
	one := synthSplit(info, 1, 6)
	s := &Split{N: 50, C: 3, H: 32, W: 32, Labels: make([]uint8, 50)}
	for range 50 {
		s.Images = append(s.Images, one.Images...)
	}
	for _, mode := range []AugmentMode{AugmentPerBatch, AugmentPerImage} {
		cfg := TrainConfig(9)
		cfg.Augment = mode
		xs, _ := fillEpoch(t, newLoader(t, info, s, cfg), 0)
		n := 3 * 28 * 28
		allSame := true
		for k := 1; k < 50; k++ {
			if !slices.Equal(xs[:n], xs[k*n:(k+1)*n]) {
				allSame = false
			}
		}
		if (mode == AugmentPerBatch) != allSame {
			t.Errorf("%v: all 50 copies identical = %v", mode, allSame)
		}
	}
}

// The random draws have torchvision's ranges, and flips, op orders and
// factors cover their ranges.
func TestDrawRanges(t *testing.T) {
	info := mustInfo("cifar10")
	l := newLoader(t, info, synthSplit(info, 1, 1), TrainConfig(1))
	var src rand.PCG
	src.Seed(1, 2)
	orders := map[[4]uint8]bool{}
	flips := 0
	lo := [4]float64{2, 2, 2, 2}
	hi := [4]float64{-2, -2, -2, -2}
	const draws = 20000
	for range draws {
		p := l.draw(&src)
		if p.top < 0 || p.top > 4 || p.left < 0 || p.left > 4 || !p.jitter {
			t.Fatalf("draw %+v", p)
		}
		if p.flip {
			flips++
		}
		orders[p.jit.order] = true
		f := [4]float64{p.jit.brightness, p.jit.contrast, p.jit.saturation, p.jit.hue}
		for i := range f {
			lo[i], hi[i] = min(lo[i], f[i]), max(hi[i], f[i])
			if float64(float32(f[i])) != f[i] {
				t.Fatalf("factor %v is not a float32 value", f[i])
			}
		}
	}
	if len(orders) != 24 {
		t.Errorf("%d of 24 op orders drawn", len(orders))
	}
	if flips < draws*45/100 || flips > draws*55/100 {
		t.Errorf("%d flips in %d draws", flips, draws)
	}
	want := [4][2]float64{{0.5, 1.5}, {0.9, 1.1}, {0.9, 1.1}, {-0.15, 0.15}}
	for i, w := range want {
		span := w[1] - w[0]
		if lo[i] < w[0]-1e-7 || hi[i] > w[1]+1e-7 || lo[i] > w[0]+span/100 || hi[i] < w[1]-span/100 {
			t.Errorf("factor %d drawn in [%v, %v], want [%v, %v]", i, lo[i], hi[i], w[0], w[1])
		}
	}
	mnist := newLoader(t, mustInfo("mnist"), synthSplit(mustInfo("mnist"), 1, 1), TrainConfig(1))
	if p := mnist.draw(&src); p.flip || p.jitter {
		t.Errorf("MNIST draw flips or jitters: %+v", p)
	}
}

func TestFillAllocatesNothing(t *testing.T) {
	info := mustInfo("cifar10")
	s := synthSplit(info, 200, 1)
	for _, cfg := range []LoaderConfig{TrainConfig(1), EvalConfig()} {
		l := newLoader(t, info, s, cfg)
		x, lb := make([]float32, 50*3*28*28), make([]int, 50)
		epoch := 0
		allocs := testing.AllocsPerRun(20, func() {
			epoch++ // a new permutation each time
			if _, err := l.Fill(epoch, 1, x, lb); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("shuffle=%v: %v allocations per Fill", cfg.Shuffle, allocs)
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	info := mustInfo("cifar10")
	s := synthSplit(info, 10, 1)
	bad := []LoaderConfig{{BatchSize: -1}, {Limit: 11}, {Limit: -1}, {Augment: 7}}
	for _, cfg := range bad {
		if _, err := NewLoader(info, s, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if _, err := NewLoader(mustInfo("mnist"), s, EvalConfig()); err == nil {
		t.Error("CIFAR split accepted for MNIST")
	}
	l := newLoader(t, info, s, EvalConfig())
	x, lb := make([]float32, 10*3*28*28), make([]int, 10)
	if _, err := l.Fill(0, 1, x, lb); err == nil {
		t.Error("batch 1 of 1 accepted")
	}
	if _, err := l.Fill(0, 0, x[:100], lb); err == nil {
		t.Error("short buffer accepted")
	}
	if _, err := l.Fill(0, 0, x, lb[:3]); err == nil {
		t.Error("short label buffer accepted")
	}
	for _, m := range []AugmentMode{AugmentNone, AugmentPerBatch, AugmentPerImage} {
		if got, err := ParseAugmentMode(m.String()); err != nil || got != m {
			t.Errorf("ParseAugmentMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseAugmentMode("sometimes"); err == nil {
		t.Error("bad mode name accepted")
	}
}

// A training batch is: crop (and flip) each image with the batch's draw,
// then its jitter, in that order, with the draw taken from the stream of
// (seed, epoch, batch).
func TestFillAppliesDraw(t *testing.T) {
	info := mustInfo("cifar10")
	s := synthSplit(info, 120, 8)
	l := newLoader(t, info, s, TrainConfig(3))
	x, lb := make([]float32, 50*3*28*28), make([]int, 50)
	const epoch, batch = 2, 1
	if _, err := l.Fill(epoch, batch, x, lb); err != nil {
		t.Fatal(err)
	}
	var src rand.PCG
	src.Seed(streamSeed(3, streamAugment, epoch, batch))
	p := l.draw(&src)
	order := l.Order(epoch)
	want := make([]float32, 3*28*28)
	for k := range 50 {
		idx := order[batch*50+k]
		cropBytes(want, s.Image(idx), 3, 32, 32, p.top, p.left, 28, 28, p.flip)
		p.jit.apply(want, 3, 28*28)
		if !slices.Equal(x[k*len(want):(k+1)*len(want)], want) || lb[k] != s.Label(idx) {
			t.Fatalf("image %d of the batch differs from crop+flip+jitter of image %d", k, idx)
		}
	}
}
