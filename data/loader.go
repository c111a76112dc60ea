package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// AugmentMode says how the random training augmentation is drawn.
type AugmentMode int

const (
	// AugmentNone is the evaluation chain: CenterCrop only.
	AugmentNone AugmentMode = iota
	// AugmentPerBatch draws one crop, flip and jitter for the whole
	// mini-batch, as the official code does (spec §6 item 6); the contrast
	// mean is still per image.
	AugmentPerBatch
	// AugmentPerImage draws them independently for every image.
	AugmentPerImage
)

// String is the mode's one name, used by --augment, run.json and sweep plans.
func (m AugmentMode) String() string {
	switch m {
	case AugmentNone:
		return "none"
	case AugmentPerBatch:
		return "per-batch"
	case AugmentPerImage:
		return "per-image"
	}
	return fmt.Sprintf("AugmentMode(%d)", int(m))
}

// ParseAugmentMode accepts the names printed by AugmentMode.String, and the
// short names "batch" and "image" that earlier releases wrote.
func ParseAugmentMode(s string) (AugmentMode, error) {
	switch s {
	case "batch":
		return AugmentPerBatch, nil
	case "image":
		return AugmentPerImage, nil
	}
	for _, m := range []AugmentMode{AugmentNone, AugmentPerBatch, AugmentPerImage} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("augmentation %q: want per-batch (official), per-image or none", s)
}

// MarshalText writes the mode's name, so that JSON files hold "per-batch".
func (m AugmentMode) MarshalText() ([]byte, error) {
	if m < AugmentNone || m > AugmentPerImage {
		return nil, fmt.Errorf("invalid augmentation mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads a name accepted by ParseAugmentMode.
func (m *AugmentMode) UnmarshalText(b []byte) error {
	v, err := ParseAugmentMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// DefaultBatchSize is the official mini-batch size for training and testing.
const DefaultBatchSize = 50

// LoaderConfig sets up a Loader. The zero value (plus a batch size of 0 =
// 50) is the evaluation loader: file order, CenterCrop.
type LoaderConfig struct {
	BatchSize int         // 0 means DefaultBatchSize
	Limit     int         // use only the first Limit images of the split; 0 means all
	Shuffle   bool        // a new permutation every epoch (training)
	Augment   AugmentMode // random crop/flip/jitter, or AugmentNone for CenterCrop
	Seed      uint64      // the user seed; the loader derives its own streams from it
}

// TrainConfig is the official training loader: batch 50, reshuffled every
// epoch, augmentation drawn once per mini-batch.
func TrainConfig(seed uint64) LoaderConfig {
	return LoaderConfig{BatchSize: DefaultBatchSize, Shuffle: true, Augment: AugmentPerBatch, Seed: seed}
}

// EvalConfig is the official test loader: batch 50, file order, CenterCrop.
func EvalConfig() LoaderConfig {
	return LoaderConfig{BatchSize: DefaultBatchSize}
}

// Stream ids mixed with the user seed; the network's initialisation uses its
// own generator, so these only need to differ from each other.
const (
	streamShuffle uint64 = 1
	streamAugment uint64 = 2
)

// Loader turns a Split into float32 NCHW mini-batches. Batch b of epoch e
// depends only on the split, the config and (e, b), never on which batches
// were drawn before; see the package doc on resuming. A Loader caches the
// current epoch's permutation, so one Loader must not be used from several
// goroutines at once.
type Loader struct {
	info      Info
	split     *Split
	cfg       LoaderConfig
	n         int
	crop      int
	perm      []int32
	permEpoch int
}

// NewLoader makes a loader over split, which belongs to the dataset info
// describes.
func NewLoader(info Info, split *Split, cfg LoaderConfig) (*Loader, error) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchSize < 0 {
		return nil, fmt.Errorf("batch size %d: want > 0", cfg.BatchSize)
	}
	if cfg.Augment < AugmentNone || cfg.Augment > AugmentPerImage {
		return nil, fmt.Errorf("unknown augmentation mode %d", int(cfg.Augment))
	}
	if split.C != info.Channels || split.H != info.Size || split.W != info.Size {
		return nil, fmt.Errorf("%s: split has images %d×%d×%d, want %d×%d×%d",
			info.Name, split.C, split.H, split.W, info.Channels, info.Size, info.Size)
	}
	if len(split.Images) != split.N*split.ImageSize() || len(split.Labels) != split.N {
		return nil, fmt.Errorf("%s: split of %d images has %d pixel bytes and %d labels",
			info.Name, split.N, len(split.Images), len(split.Labels))
	}
	n := split.N
	if cfg.Limit < 0 || cfg.Limit > split.N {
		return nil, fmt.Errorf("%s: limit %d: the split has %d images", info.Name, cfg.Limit, split.N)
	}
	if cfg.Limit > 0 {
		n = cfg.Limit
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: the split is empty", info.Name)
	}
	l := &Loader{info: info, split: split, cfg: cfg, n: n, crop: info.Crop, permEpoch: -1}
	if cfg.Shuffle {
		l.perm = make([]int32, n)
	}
	return l, nil
}

// Len is the number of images an epoch visits.
func (l *Loader) Len() int { return l.n }

// BatchSize is the size of every batch but possibly the last.
func (l *Loader) BatchSize() int { return l.cfg.BatchSize }

// NumBatches is the number of batches of an epoch; the last one is smaller
// when the batch size does not divide Len (PyTorch's drop_last=False).
func (l *Loader) NumBatches() int { return (l.n + l.cfg.BatchSize - 1) / l.cfg.BatchSize }

// Shape is the shape of one image of a batch: channels, height, width.
func (l *Loader) Shape() (c, h, w int) { return l.info.Channels, l.crop, l.crop }

// Config returns the configuration with defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// Fill writes batch b of epoch e into x (batch×C×crop×crop, float32 in
// [0,1]) and labels, and returns the number of images in the batch. It
// allocates nothing.
func (l *Loader) Fill(epoch, b int, x []float32, labels []int) (int, error) {
	if epoch < 0 {
		return 0, fmt.Errorf("%s loader: epoch %d < 0", l.info.Name, epoch)
	}
	if b < 0 || b >= l.NumBatches() {
		return 0, fmt.Errorf("%s loader: batch %d of %d", l.info.Name, b, l.NumBatches())
	}
	first := b * l.cfg.BatchSize
	count := min(l.cfg.BatchSize, l.n-first)
	c, ch, cw := l.Shape()
	size := c * ch * cw
	if len(x) < count*size || len(labels) < count {
		return 0, fmt.Errorf("%s loader: batch of %d images needs %d floats and %d labels, have %d and %d",
			l.info.Name, count, count*size, count, len(x), len(labels))
	}
	if l.cfg.Shuffle && l.permEpoch != epoch {
		l.shuffle(epoch)
	}
	var src rand.PCG
	src.Seed(streamSeed(l.cfg.Seed, streamAugment, uint64(epoch), uint64(b)))
	var p augParams
	if l.cfg.Augment == AugmentPerBatch {
		p = l.draw(&src)
	} else if l.cfg.Augment == AugmentNone {
		p = l.center()
	}
	s := l.split
	for k := range count {
		idx := first + k
		if l.cfg.Shuffle {
			idx = int(l.perm[idx])
		}
		if l.cfg.Augment == AugmentPerImage {
			p = l.draw(&src)
		}
		img := x[k*size : (k+1)*size]
		cropBytes(img, s.Image(idx), s.C, s.H, s.W, p.top, p.left, ch, cw, p.flip)
		if p.jitter {
			p.jit.apply(img, c, ch*cw)
		}
		labels[k] = s.Label(idx)
	}
	return count, nil
}

// Order returns the image indices of epoch e in visiting order (a copy).
func (l *Loader) Order(epoch int) []int {
	order := make([]int, l.n)
	for i := range order {
		order[i] = i
	}
	if l.cfg.Shuffle {
		if l.permEpoch != epoch {
			l.shuffle(epoch)
		}
		for i, v := range l.perm {
			order[i] = int(v)
		}
	}
	return order
}

// shuffle computes the permutation of an epoch from the seed and the epoch
// alone (Fisher–Yates), so no generator state carries over between epochs.
func (l *Loader) shuffle(epoch int) {
	var src rand.PCG
	src.Seed(streamSeed(l.cfg.Seed, streamShuffle, uint64(epoch), 0))
	for i := range l.perm {
		l.perm[i] = int32(i)
	}
	for i := len(l.perm) - 1; i > 0; i-- {
		j := intN(&src, i+1)
		l.perm[i], l.perm[j] = l.perm[j], l.perm[i]
	}
	l.permEpoch = epoch
}

type augParams struct {
	top, left int
	flip      bool
	jitter    bool
	jit       jitter
}

func (l *Loader) center() augParams {
	o := centerOffset(l.info.Size, l.crop)
	return augParams{top: o, left: o}
}

// draw makes the random choices of the official chain in torchvision's
// order: RandomCrop (top, then left), RandomHorizontalFlip (one U[0,1) <
// 0.5), ColorJitter (a permutation of the four ops, then the factors
// brightness, contrast, saturation, hue, each a float32 uniform).
func (l *Loader) draw(src *rand.PCG) augParams {
	var p augParams
	p.top = intN(src, l.info.Size-l.crop+1)
	p.left = intN(src, l.info.Size-l.crop+1)
	if l.info.Flip {
		p.flip = uniform32(src) < 0.5
	}
	if l.info.Jitter {
		p.jitter = true
		p.jit.order = [4]uint8{opBrightness, opContrast, opSaturation, opHue}
		for i := 3; i > 0; i-- {
			j := intN(src, i+1)
			p.jit.order[i], p.jit.order[j] = p.jit.order[j], p.jit.order[i]
		}
		p.jit.brightness = uniformIn(src, 0.5, 1.5)
		p.jit.contrast = uniformIn(src, 0.9, 1.1)
		p.jit.saturation = uniformIn(src, 0.9, 1.1)
		p.jit.hue = uniformIn(src, -0.15, 0.15)
	}
	return p
}

// intN is a uniform integer in [0, n) (Lemire's method, unbiased); written
// out rather than taken from rand.Rand so the sequence cannot change with
// the Go release.
func intN(src *rand.PCG, n int) int {
	bound := uint64(n)
	hi, lo := bits.Mul64(src.Uint64(), bound)
	if lo < bound {
		threshold := -bound % bound
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), bound)
		}
	}
	return int(hi)
}

// uniform32 is a float32 in [0,1) with 24 random bits, like torch.rand.
func uniform32(src *rand.PCG) float32 {
	return float32(src.Uint64()>>40) * 0x1p-24
}

// uniformIn draws a float32 factor in [lo, hi) as torch's uniform_ does
// (u·(hi−lo) + lo in float32) and returns it as the float64 torchvision then
// holds.
func uniformIn(src *rand.PCG, lo, hi float32) float64 {
	u := uniform32(src)
	return float64(float32(u*(hi-lo)) + lo)
}

// streamSeed derives the two PCG seed words of one stream from the user
// seed by chaining splitmix64's finaliser, so nearby inputs (epoch 3 and 4,
// say) give unrelated generator states rather than neighbouring ones.
func streamSeed(seed, stream, a, b uint64) (uint64, uint64) {
	h := mix64(seed ^ 0x6a09e667f3bcc909)
	h = mix64(h ^ stream)
	h = mix64(h ^ a)
	h = mix64(h ^ b)
	return h, mix64(h ^ 0x9e3779b97f4a7c15)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
