package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

type augmentGolden struct {
	Meta struct {
		Jitter []struct {
			Factors struct {
				Brightness, Contrast, Saturation, Hue float64
			} `json:"factors"`
			Order  []uint8 `json:"order"`
			Tensor string  `json:"tensor"`
		} `json:"jitter"`
	} `json:"meta"`
	Tensors map[string]sharedtest.Tensor `json:"tensors"`
}

func loadAugmentGolden(t *testing.T) *augmentGolden {
	t.Helper()
	var g augmentGolden
	sharedtest.ReadJSON(t, &g, "golden", "augment.json")
	if len(g.Meta.Jitter) != 2 {
		t.Fatalf("augment.json: %d jitter entries, want 2", len(g.Meta.Jitter))
	}
	return &g
}

func (g *augmentGolden) tensor(t *testing.T, name string) sharedtest.Tensor {
	t.Helper()
	v, ok := g.Tensors[name]
	if !ok {
		t.Fatalf("augment.json has no tensor %s", name)
	}
	return v
}

const augmentTol = 1e-5

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// cropFloats is cropBytes for float32 images, which the golden file holds.
func cropFloats(dst, src []float32, c, h, w, top, left, ch, cw int, flip bool) {
	for k := range c {
		for i := range ch {
			row := src[(k*h+top+i)*w+left : (k*h+top+i)*w+left+cw]
			out := dst[(k*ch+i)*cw : (k*ch+i+1)*cw]
			if flip {
				for j, v := range row {
					out[cw-1-j] = v
				}
			} else {
				copy(out, row)
			}
		}
	}
}

// perImage applies op to every image of an N×C×H×W batch copy.
func perImage(in sharedtest.Tensor, op func(img []float32, c, hw int)) []float32 {
	out := slices.Clone(in.Data)
	n, c, hw := in.Shape[0], in.Shape[1], in.Shape[2]*in.Shape[3]
	for i := range n {
		op(out[i*c*hw:(i+1)*c*hw], c, hw)
	}
	return out
}

func cropBatch(in sharedtest.Tensor, top, left, ch, cw int, flip bool) []float32 {
	n, c, h, w := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	out := make([]float32, n*c*ch*cw)
	for i := range n {
		cropFloats(out[i*c*ch*cw:], in.Data[i*c*h*w:(i+1)*c*h*w], c, h, w, top, left, ch, cw, flip)
	}
	return out
}

func TestAugmentGolden(t *testing.T) {
	g := loadAugmentGolden(t)
	in := g.tensor(t, "input")
	if !slices.Equal(in.Shape, []int{3, 3, 8, 8}) {
		t.Fatalf("input shape %v", in.Shape)
	}
	cases := map[string][]float32{}
	for _, f := range []float64{0.5, 1.5} {
		cases[fmt.Sprintf("brightness_%g", f)] = perImage(in, func(img []float32, c, hw int) { adjustBrightness(img, f) })
	}
	for _, f := range []float64{0.9, 1.1} {
		cases[fmt.Sprintf("contrast_%g", f)] = perImage(in, func(img []float32, c, hw int) { adjustContrast(img, c, hw, f) })
		cases[fmt.Sprintf("saturation_%g", f)] = perImage(in, func(img []float32, c, hw int) { adjustSaturation(img, c, hw, f) })
	}
	for _, f := range []float64{-0.15, 0.1, 0.45} {
		cases[fmt.Sprintf("hue_%g", f)] = perImage(in, func(img []float32, c, hw int) { adjustHue(img, c, hw, f) })
	}
	var grayOut []float32
	for i := range 3 {
		img := in.Data[i*192 : (i+1)*192]
		for p := range 64 {
			grayOut = append(grayOut, gray(img[p], img[64+p], img[128+p]))
		}
	}
	cases["rgb_to_grayscale"] = grayOut
	cases["crop_1_2_6_6"] = cropBatch(in, 1, 2, 6, 6, false)
	cases["hflip"] = cropBatch(in, 0, 0, 8, 8, true)
	o := centerOffset(8, 6)
	cases["center_crop_6"] = cropBatch(in, o, o, 6, 6, false)
	for _, jm := range g.Meta.Jitter {
		j := jitter{brightness: jm.Factors.Brightness, contrast: jm.Factors.Contrast,
			saturation: jm.Factors.Saturation, hue: jm.Factors.Hue}
		copy(j.order[:], jm.Order)
		cases[jm.Tensor] = perImage(in, j.apply)
		if jm.Tensor == "jitter_order_3_0_2_1" {
			cropped := sharedtest.Tensor{Shape: []int{3, 3, 6, 6}, Data: cropBatch(in, 1, 2, 6, 6, true)}
			cases["crop_hflip_jitter_order_3_0_2_1"] = perImage(cropped, j.apply)
		}
	}
	names := make([]string, 0, len(g.Tensors))
	for name := range g.Tensors {
		if name != "input" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		got, ok := cases[name]
		if !ok {
			t.Errorf("%s: golden tensor not tested", name)
			continue
		}
		d := maxAbsDiff(got, g.Tensors[name].Data)
		t.Logf("%-32s max abs diff %.3g", name, d)
		if d > augmentTol {
			t.Errorf("%s: max abs diff %.3g > %g", name, d, augmentTol)
		}
	}
}

// The jitter composition equals its ops applied one by one in its order,
// for every one of the 24 orders.
func TestJitterIsComposition(t *testing.T) {
	g := loadAugmentGolden(t)
	in := g.tensor(t, "input")
	factors := jitter{brightness: 1.2, contrast: 0.93, saturation: 1.06, hue: 0.11}
	ops := []func(img []float32, c, hw int){
		func(img []float32, c, hw int) { adjustBrightness(img, factors.brightness) },
		func(img []float32, c, hw int) { adjustContrast(img, c, hw, factors.contrast) },
		func(img []float32, c, hw int) { adjustSaturation(img, c, hw, factors.saturation) },
		func(img []float32, c, hw int) { adjustHue(img, c, hw, factors.hue) },
	}
	count := 0
	for a := range 4 {
		for b := range 4 {
			for c := range 4 {
				d := 6 - a - b - c
				order := [4]uint8{uint8(a), uint8(b), uint8(c), uint8(d)}
				if a == b || a == c || b == c || d < 0 || d > 3 || d == a || d == b || d == c {
					continue
				}
				count++
				j := factors
				j.order = order
				got := perImage(in, j.apply)
				want := slices.Clone(in.Data)
				for _, op := range order {
					want = perImage(sharedtest.Tensor{Shape: in.Shape, Data: want}, ops[op])
				}
				if !slices.Equal(got, want) {
					t.Errorf("order %v: jitter differs from its ops in sequence", order)
				}
			}
		}
	}
	if count != 24 {
		t.Fatalf("tested %d orders, want 24", count)
	}
}

// cropBytes is cropFloats on the /255 image.
func TestCropBytesMatchesFloats(t *testing.T) {
	const c, h, w = 3, 7, 9
	src := make([]uint8, c*h*w)
	srcF := make([]float32, c*h*w)
	for i := range src {
		src[i] = uint8(i*37 + 11)
		srcF[i] = float32(src[i]) / 255
	}
	for _, flip := range []bool{false, true} {
		got := make([]float32, c*4*5)
		want := make([]float32, c*4*5)
		cropBytes(got, src, c, h, w, 2, 3, 4, 5, flip)
		cropFloats(want, srcF, c, h, w, 2, 3, 4, 5, flip)
		if !slices.Equal(got, want) {
			t.Errorf("flip=%v: cropBytes differs from cropFloats", flip)
		}
	}
}

func TestCenterOffset(t *testing.T) {
	// torchvision: int(round((size - crop) / 2)), Python's round half to even.
	for _, tc := range []struct{ size, crop, want int }{{32, 28, 2}, {28, 24, 2}, {8, 6, 1}, {9, 6, 2}, {11, 6, 2}, {7, 6, 0}} {
		if got := centerOffset(tc.size, tc.crop); got != tc.want {
			t.Errorf("centerOffset(%d, %d) = %d, want %d", tc.size, tc.crop, got, tc.want)
		}
	}
}

// fmod1 is math.Mod(a, 1) bit for bit, signed zeros included.
func TestFmod1(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 2, -3, 0.5, -0.5, 1.5, 0x1p-30, -0x1p-30, 0x1p23 + 1, -0x1p24, 0.99999994, 1.0000001}
	for range 100000 {
		vals = append(vals, (r.Float32()-0.5)*4, (r.Float32()-0.5)*float32(math.Ldexp(1, r.IntN(60)-30)))
	}
	for _, a := range vals {
		want := float32(math.Mod(float64(a), 1))
		if got := fmod1(a); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fmod1(%v) = %v, want %v", a, got, want)
		}
	}
}
