package experiment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepnmf/deepnmf/data"
)

// The 2×2 one-channel cases use binary fractions, so the expected values are exact.

func TestApplyUniformHandComputed(t *testing.T) {
	img := []float32{1, 2, 3, 2}            // Σ = 8 → 1/8, 2/8, 3/8, 2/8
	u := []float32{0.5, 0.25, 0.125, 0.125} // Σ = 1
	ApplyUniform(img, u, 0.25)
	// 0.75·x̂ + 0.25·û
	want := []float32{0.75*0.125 + 0.25*0.5, 0.75*0.25 + 0.25*0.25, 0.75*0.375 + 0.25*0.125, 0.75*0.25 + 0.25*0.125}
	if !slices.Equal(img, want) || want[0] != 0.21875 {
		t.Fatalf("got %v, want %v", img, want)
	}
}

func TestApplyPictureHandComputed(t *testing.T) {
	img := []float32{1, 2, 3, 2}
	other := []float32{4, 0, 0, 4}
	ApplyPicture(img, other, 0.5)
	want := []float32{0.3125, 0.125, 0.1875, 0.375}
	if !slices.Equal(img, want) {
		t.Fatalf("got %v, want %v", img, want)
	}
}

func TestApplyHolesHandComputed(t *testing.T) {
	img := []float32{1, 2, 3, 2}
	u := []float32{0.1, 0.9, 0.5, 0.6} // 0.5 is not > 0.5: dropped, as (U > η)
	ApplyHoles(img, u, 0.5)
	want := []float32{0, 0.5, 0, 0.5}
	if !slices.Equal(img, want) {
		t.Fatalf("got %v, want %v", img, want)
	}
}

func TestApplyHolesNoiseHandComputed(t *testing.T) {
	img := []float32{1, 2, 3, 2}
	u := []float32{0.1, 0.9, 0.3, 0.6}
	n2 := []float32{0.5, 0.25, 0.125, 0.125} // Σ = 1: the filler is n2 itself
	ApplyHolesNoise(img, u, n2, 0.5)
	// x·m + (1−m)·n̂2 = (0.5, 2, 0.125, 2), Σ = 37/8, NOT normalising x first.
	want := []float64{4.0 / 37, 16.0 / 37, 1.0 / 37, 16.0 / 37}
	for i := range want {
		if math.Abs(float64(img[i])-want[i]) > 1e-7 {
			t.Fatalf("got %v, want %v", img, want)
		}
	}
}

func TestLevels(t *testing.T) {
	for _, n := range Noises {
		eta := Levels(n)
		if len(eta) != 21 || eta[0] != 0 {
			t.Fatalf("%s: %v", n, eta)
		}
		top := float32(1)
		if n == Picture {
			top = 0.5
		}
		if eta[20] != top {
			t.Fatalf("%s: last level %v, want %v", n, eta[20], top)
		}
		for k := range eta {
			// float32(k)/20 is one correctly rounded division: the float32 nearest k/20.
			want := float32(float64(k) / 20)
			if n == Picture {
				want = float32(0.5 * float64(want))
			}
			if eta[k] != want {
				t.Fatalf("%s level %d: %v, want %v", n, k, eta[k], want)
			}
		}
	}
}

func TestParseNoises(t *testing.T) {
	got, err := ParseNoises("uniform,picture,holes,holes-noise")
	if err != nil || !slices.Equal(got, Noises) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "gauss", "holes,holes"} {
		if _, err := ParseNoises(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// testBatch is n random images with values in (0, 1], like pixels/255 without zeros.
func testBatch(seed uint64, n, imageLen int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*imageLen)
	for i := range x {
		x[i] = float32(1+r.IntN(255)) / 255
	}
	return x
}

// trainSplit is a synthetic training split of m images of 3×size×size.
func trainSplit(m, size int) *data.Split {
	s := &data.Split{N: m, C: 3, H: size, W: size}
	r := rand.New(rand.NewPCG(9, 9))
	s.Images = make([]uint8, m*3*size*size)
	for i := range s.Images {
		s.Images[i] = uint8(r.IntN(256))
	}
	s.Labels = make([]uint8, m)
	return s
}

func corrupt(t *testing.T, n Noise, level int, seed uint64, batch int, x []float32, imageLen, batchSize int, train *data.Split) []float32 {
	t.Helper()
	c, err := NewCorruptor(n, level, seed, imageLen, batchSize, train)
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(x)
	if err := c.Corrupt(batch, out, len(x)/imageLen); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCorruptorLevelZeroIsIdentity(t *testing.T) {
	const L, B = 3 * 4 * 4, 5
	train := trainSplit(20, 4)
	x := testBatch(1, B, L)
	for _, n := range Noises {
		if got := corrupt(t, n, 0, 21, 2, x, L, B, train); !slices.Equal(got, x) {
			t.Fatalf("%s at η=0 changed the batch", n)
		}
	}
}

func sum(s []float32) float64 {
	var v float64
	for _, x := range s {
		v += float64(x)
	}
	return v
}

func TestCorruptorEtaOneLimits(t *testing.T) {
	const L, B = 3 * 4 * 4, 4
	x1, x2 := testBatch(1, B, L), testBatch(2, B, L)
	// Uniform and holes-with-noise at η = 1 are the normalised noise alone:
	// the image no longer matters, and each image sums to 1.
	for _, n := range []Noise{Uniform, HolesNoise} {
		a, b := corrupt(t, n, 20, 21, 0, x1, L, B, nil), corrupt(t, n, 20, 21, 0, x2, L, B, nil)
		if !slices.Equal(a, b) {
			t.Fatalf("%s at η=1 still depends on the image", n)
		}
		for j := range B {
			if s := sum(a[j*L : (j+1)*L]); math.Abs(s-1) > 1e-5 {
				t.Fatalf("%s at η=1: image %d sums to %v", n, j, s)
			}
		}
	}
	for _, v := range corrupt(t, Holes, 20, 21, 0, x1, L, B, nil) {
		if v != 0 {
			t.Fatal("holes at η=1 left a non-zero value")
		}
	}
	// Picture noise stops at η = 0.5: half the normalised image, half the
	// normalised training image of the same position in file order (batch 1 ↔ images B…2B−1).
	train := trainSplit(3*B, 4)
	got := corrupt(t, Picture, 20, 21, 1, x1, L, B, train)
	for j := range B {
		img := x1[j*L : (j+1)*L]
		tr := train.Image(B + j)
		var sx, st float64
		for i := range img {
			sx += float64(img[i])
			st += float64(tr[i]) / 255
		}
		for i := range img {
			want := 0.5*float64(img[i])/sx + 0.5*(float64(tr[i])/255)/st
			if math.Abs(float64(got[j*L+i])-want) > 1e-6*want+1e-9 {
				t.Fatalf("picture image %d element %d: %v, want %v", j, i, got[j*L+i], want)
			}
		}
	}
	// ApplyPicture itself at η = 1 is the other image normalised.
	img, other := []float32{1, 2, 3, 2}, []float32{4, 0, 0, 4}
	ApplyPicture(img, other, 1)
	if !slices.Equal(img, []float32{0.5, 0, 0, 0.5}) {
		t.Fatalf("picture at η=1: %v", img)
	}
}

func TestCorruptorHolesFraction(t *testing.T) {
	const L, B = 3 * 32 * 32, 20
	x := testBatch(3, B, L) // no zeros, so a zero is a hole
	for _, level := range []int{2, 6, 10, 14, 19} {
		for _, n := range []Noise{Holes, HolesNoise} {
			got := corrupt(t, n, level, 21, 0, x, L, B, nil)
			eta := float64(Levels(n)[level])
			holes := 0
			for j := range B {
				out, in := got[j*L:(j+1)*L], x[j*L:(j+1)*L]
				// Kept pixels share one scale out/in = 1/Σ; a filled hole of
				// holes-noise holds the filler (≲ 2/L) over a pixel ≥ 1/255,
				// a ratio below a fifth of that scale.
				scale := maxRatio(out, in)
				for i := range out {
					if out[i] == 0 || float64(out[i])/float64(in[i]) < 0.5*scale {
						holes++
					}
				}
			}
			N := float64(len(got))
			frac := float64(holes) / N
			sigma := math.Sqrt(eta * (1 - eta) / N)
			if math.Abs(frac-eta) > 3*sigma {
				t.Fatalf("%s η=%v: hole fraction %v outside η ± 3σ (σ=%v)", n, eta, frac, sigma)
			}
		}
	}
}

// maxRatio is the largest ratio out/in over an image: the common scale of
// its kept pixels.
func maxRatio(out, in []float32) float64 {
	s := 0.0
	for i := range out {
		s = max(s, float64(out[i])/float64(in[i]))
	}
	return s
}

func TestCorruptorNoNegativesAndDeterminism(t *testing.T) {
	const L, B = 3 * 8 * 8, 6
	train := trainSplit(4*B, 8)
	x := testBatch(4, B, L)
	for i := range x[:L] {
		x[i] = 0 // an all-black image: guards keep it finite and non-negative
	}
	for _, n := range Noises {
		for level := range NumLevels {
			a := corrupt(t, n, level, 21, 3, x, L, B, train)
			for _, v := range a {
				if !(v >= 0) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s level %d: value %v", n, level, v)
				}
			}
			if b := corrupt(t, n, level, 21, 3, x, L, B, train); !slices.Equal(a, b) {
				t.Fatalf("%s level %d: not deterministic", n, level)
			}
			if level > 0 && n != Picture && !(n == Holes && level == 20) {
				if c := corrupt(t, n, level, 22, 3, x, L, B, train); slices.Equal(a, c) {
					t.Fatalf("%s level %d: seed ignored", n, level)
				}
				if c := corrupt(t, n, level, 21, 2, x, L, B, train); slices.Equal(a, c) {
					t.Fatalf("%s level %d: every batch gets the same noise", n, level)
				}
			}
		}
	}
}

func TestCorruptorErrors(t *testing.T) {
	if _, err := NewCorruptor(Picture, 3, 21, 48, 5, nil); err == nil {
		t.Fatal("picture noise without a training split accepted")
	}
	if _, err := NewCorruptor(Uniform, 21, 21, 48, 5, nil); err == nil {
		t.Fatal("level 21 accepted")
	}
	if _, err := NewCorruptor(Picture, 3, 21, 48, 5, trainSplit(4, 8)); err == nil {
		t.Fatal("training images of another size accepted")
	}
	c, err := NewCorruptor(Picture, 3, 21, 3*4*4, 5, trainSplit(7, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Corrupt(1, testBatch(1, 5, 48), 5); err == nil {
		t.Fatal("a test batch beyond the training split accepted")
	}
	if err := c.Corrupt(0, make([]float32, 10), 5); err == nil {
		t.Fatal("a short batch accepted")
	}
}

func TestCorruptorShuffledPairs(t *testing.T) {
	const L, B = 3 * 4 * 4, 4
	train := trainSplit(12, 4)
	x := testBatch(1, B, L)
	pairs := PicturePairs(train.N)
	if len(pairs) != 12 || slices.Equal(pairs, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Fatalf("not a shuffled permutation: %v", pairs)
	}
	if !slices.Equal(pairs, PicturePairs(12)) {
		t.Fatal("the pairing is not fixed")
	}
	c, err := NewCorruptor(Picture, 10, 21, L, B, train)
	if err != nil {
		t.Fatal(err)
	}
	c.Pairs = pairs
	got := slices.Clone(x)
	if err := c.Corrupt(2, got, B); err != nil {
		t.Fatal(err)
	}
	// Test image 2·B+j is mixed with training image pairs[2·B+j], at η = 0.25.
	for j := range B {
		want := slices.Clone(x[j*L : (j+1)*L])
		other := make([]float32, L)
		for i, v := range train.Image(pairs[2*B+j]) {
			other[i] = float32(v) / 255
		}
		ApplyPicture(want, other, Levels(Picture)[10])
		if !slices.Equal(got[j*L:(j+1)*L], want) {
			t.Fatalf("image %d is not paired with training image %d", j, pairs[2*B+j])
		}
	}
}
