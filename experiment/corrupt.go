package experiment

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/kernels"
)

// Noise is one of the four corruptions of the official robustness scripts
// (spec §5).
type Noise int

const (
	Uniform    Noise = iota // noise_uniform.py: (1−η)·x̂ + η·n̂, n = U[0,1)
	Picture                 // noise_picture.py: (1−η)·x̂ + η·t̂, t the paired training image
	Holes                   // noise_holes.py: elements dropped with probability η, then L1-normalised
	HolesNoise              // noise_holes_w_noise.py: dropped elements filled with normalised noise
)

// Noises lists every corruption in the order of the official scripts.
var Noises = []Noise{Uniform, Picture, Holes, HolesNoise}

var noiseNames = [...]string{"uniform", "picture", "holes", "holes-noise"}

func (n Noise) String() string {
	if n < 0 || int(n) >= len(noiseNames) {
		return fmt.Sprintf("noise(%d)", int(n))
	}
	return noiseNames[n]
}

// ParseNoise maps a name printed by String to the Noise.
func ParseNoise(s string) (Noise, error) {
	for i, name := range noiseNames {
		if s == name {
			return Noise(i), nil
		}
	}
	return 0, fmt.Errorf("noise %q: want one of %s", s, strings.Join(noiseNames[:], ", "))
}

// ParseNoises parses a comma-separated list of noise names (no repeats).
func ParseNoises(list string) ([]Noise, error) {
	var out []Noise
	seen := map[Noise]bool{}
	for _, s := range strings.Split(list, ",") {
		n, err := ParseNoise(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("noise %q given twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// NumLevels is the number of noise levels of every official script.
const NumLevels = 21

// Levels returns the official η grid of a noise in float32:
// torch.arange(0, 21) / 20.0, times 0.5 for picture noise, each operation
// rounded to float32 as the tensors are.
func Levels(n Noise) []float32 {
	eta := make([]float32, NumLevels)
	for k := range eta {
		eta[k] = float32(k) / float32(20)
		if n == Picture {
			eta[k] = float32(0.5) * eta[k]
		}
	}
	return eta
}

// guard is the literal 1e-20 the scripts add to every L1 sum.
const guard = kernels.ReconGuard

// L1Normalize divides img by (Σ img + 1e-20), as the scripts do over the
// (C,H,W) of one image. The sum is accumulated in float64 and rounded once:
// PyTorch's reduction order cannot be matched, and this is the closest to the
// exact sum.
func L1Normalize(img []float32) {
	var s float64
	for _, v := range img {
		s += float64(v)
	}
	d := float32(s) + guard
	for i, v := range img {
		img[i] = v / d
	}
}

// mix computes (1−η)·a + η·b in float32 with every product rounded, as the
// scripts' tensor expression; the explicit conversions keep Go from fusing
// them into an FMA.
func mix(oneMinus, eta, a, b float32) float32 {
	return float32(oneMinus*a) + float32(eta*b)
}

// ApplyUniform is noise_uniform on one image: u holds len(img) draws of
// U[0,1) and is normalised in place; img ← (1−η)·img/Σimg + η·u/Σu.
func ApplyUniform(img, u []float32, eta float32) { blendNormalized(img, u, eta) }

// ApplyPicture is noise_picture on one image: other (the paired training
// image, len(img) values) is normalised in place; img ← (1−η)·img/Σimg +
// η·other/Σother.
func ApplyPicture(img, other []float32, eta float32) { blendNormalized(img, other, eta) }

// blendNormalized is (1−η)·img/Σimg + η·other/Σother into img, other
// normalised in place: uniform and picture noise differ only in other.
func blendNormalized(img, other []float32, eta float32) {
	L1Normalize(other)
	L1Normalize(img)
	om := 1 - eta
	for i := range img {
		img[i] = mix(om, eta, img[i], other[i])
	}
}

// ApplyHoles is noise_holes on one image: element i is kept iff u[i] > η
// (per element, so per channel and pixel, spec §6 item 18), then img is
// L1-normalised. At η = 1 nothing is kept (u < 1) and the image is all zeros.
func ApplyHoles(img, u []float32, eta float32) {
	for i := range img {
		if !(u[i] > eta) {
			img[i] = 0
		}
	}
	L1Normalize(img)
}

// ApplyHolesNoise is noise_holes_w_noise on one image: the mask is u[i] > η,
// the filler n2 (len(img) U[0,1) draws) is normalised in place, dropped
// elements take n2's value while img itself is NOT normalised first (so the
// filler is almost black next to pixel values, spec §6 item 17), and then
// img is L1-normalised.
func ApplyHolesNoise(img, u, n2 []float32, eta float32) {
	L1Normalize(n2)
	for i := range img {
		// x·m + (1−m)·n2 with m ∈ {0,1}: each term is exact, so this is it.
		if !(u[i] > eta) {
			img[i] = n2[i]
		}
	}
	L1Normalize(img)
}

// Corruptor corrupts the test batches of one noise level. Its Corrupt method
// has the signature of the evaluation's per-batch hook: it gets batch b of
// the test split in file order as full stored images (before CenterCrop) and
// changes them in place.
//
// At η = 0 Corrupt leaves the batch unchanged. The scripts' formulas reduce
// there to an L1 normalisation of the image (and holes could drop an element
// whose draw is exactly 0): a global rescaling that every network's first
// ReLU → patch L1 normalisation undoes up to rounding. Skipping it makes level
// 0 the clean evaluation exactly, the reference the other levels are read
// against.
type Corruptor struct {
	Noise     Noise
	Level     int     // index into Levels(Noise)
	Eta       float32 // Levels(Noise)[Level]
	Seed      uint64
	ImageLen  int // C·Size·Size of one stored image
	BatchSize int // size of every test batch but the last: pairs test batch b with training images b·BatchSize…
	// Train is the training split whose images picture noise superposes
	// (un-augmented, full size, /255); unused by the others.
	Train *data.Split
	// Pairs, if not nil, is the order of the training images that picture
	// noise pairs with the test images (test image i gets Train image
	// Pairs[i]); nil is file order, as the issue and the scripts' loaders
	// (both unshuffled) have it. See PicturePairs.
	Pairs []int

	u, u2 []float32
}

// NewCorruptor prepares level `level` of noise n for test batches of
// batchSize images of imageLen values each.
func NewCorruptor(n Noise, level int, seed uint64, imageLen, batchSize int, train *data.Split) (*Corruptor, error) {
	if n < 0 || int(n) >= len(noiseNames) {
		return nil, fmt.Errorf("corruption: unknown noise %d", int(n))
	}
	if level < 0 || level >= NumLevels {
		return nil, fmt.Errorf("corruption: level %d outside 0…%d", level, NumLevels-1)
	}
	if imageLen < 1 || batchSize < 1 {
		return nil, fmt.Errorf("corruption: image length %d and batch size %d must be at least 1", imageLen, batchSize)
	}
	if n == Picture {
		if train == nil {
			return nil, fmt.Errorf("corruption: picture noise needs the training split")
		}
		if train.ImageSize() != imageLen {
			return nil, fmt.Errorf("corruption: training images have %d values, test images %d", train.ImageSize(), imageLen)
		}
	}
	return &Corruptor{
		Noise: n, Level: level, Eta: Levels(n)[level], Seed: seed,
		ImageLen: imageLen, BatchSize: batchSize, Train: train,
		u: make([]float32, batchSize*imageLen), u2: make([]float32, batchSize*imageLen),
	}, nil
}

// corruptStream keys the corruption streams apart from every other use of the seed.
const corruptStream = 0x636f7272 // "corr"

// stream is the generator of one (noise, level, batch): see the package doc.
func (c *Corruptor) stream(batch int) *rand.Rand {
	key := uint64(corruptStream)<<32 ^ uint64(c.Noise)<<24 ^ uint64(c.Level)<<16
	return rand.New(rand.NewPCG(c.Seed, key^uint64(batch)<<40^uint64(batch)))
}

// Corrupt corrupts batch `batch` (n images, NCHW, full stored size) in place.
func (c *Corruptor) Corrupt(batch int, full []float32, n int) error {
	if n < 0 || n > c.BatchSize || len(full) < n*c.ImageLen {
		return fmt.Errorf("corruption: batch %d: %d images of %d values do not fit a batch of %d (%d values given)", batch, n, c.ImageLen, c.BatchSize, len(full))
	}
	if c.Eta == 0 {
		return nil
	}
	L := c.ImageLen
	rng := c.stream(batch)
	draw := func(s []float32) {
		for i := range s {
			s[i] = rng.Float32()
		}
	}
	switch c.Noise {
	case Uniform:
		draw(c.u[:n*L])
		for j := range n {
			ApplyUniform(full[j*L:(j+1)*L], c.u[j*L:(j+1)*L], c.Eta)
		}
	case Picture:
		first := batch * c.BatchSize
		if first+n > c.Train.N || (c.Pairs != nil && first+n > len(c.Pairs)) {
			return fmt.Errorf("corruption: picture noise pairs test batch %d with training images %d…%d, but the training split has %d", batch, first, first+n-1, c.Train.N)
		}
		for j := range n {
			other := c.u[j*L : (j+1)*L]
			t := first + j
			if c.Pairs != nil {
				t = c.Pairs[t]
			}
			for i, v := range c.Train.Image(t) {
				other[i] = float32(v) / 255
			}
			ApplyPicture(full[j*L:(j+1)*L], other, c.Eta)
		}
	case Holes:
		draw(c.u[:n*L])
		for j := range n {
			ApplyHoles(full[j*L:(j+1)*L], c.u[j*L:(j+1)*L], c.Eta)
		}
	case HolesNoise:
		draw(c.u[:n*L])
		draw(c.u2[:n*L])
		for j := range n {
			ApplyHolesNoise(full[j*L:(j+1)*L], c.u[j*L:(j+1)*L], c.u2[j*L:(j+1)*L], c.Eta)
		}
	}
	return nil
}

// pairStream keys the shuffled picture pairing apart from other uses of a seed.
const pairStream = 0x70616972 // "pair"

// PicturePairs is the shuffled pairing of spec §6 item 16: a permutation of
// the n training images drawn from seed 0 (the official shuffle seed),
// the same at every level. File order pairs test image i with training image
// i, which leaks the label when both splits are stored in the same class
// order (as the CIFAR-10 files in ../shared/data are: labels 0…9 cycling);
// the shuffled order does not.
func PicturePairs(n int) []int {
	return rand.New(rand.NewPCG(0, pairStream)).Perm(n)
}
