package data

import "math"

// The augmentation ops follow torchvision 0.14's tensor backend
// (transforms/functional_tensor.py) operation by operation in float32, so
// that their rounding matches (spec §3.1). Every product that torchvision
// rounds separately is wrapped in an explicit float32 conversion: the Go spec
// lets the compiler fuse x*y+z into an FMA otherwise.

// rgb_to_grayscale's weights, applied as float32 scalars.
const (
	grayR = float32(0.2989)
	grayG = float32(0.587)
	grayB = float32(0.114)
)

func gray(r, g, b float32) float32 {
	return float32(float32(grayR*r)+float32(grayG*g)) + float32(grayB*b)
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// blendWeights returns the float32 scalars of torchvision's _blend:
// ratio·img1 + (1.0 − ratio)·img2, where (1.0 − ratio) is formed in double.
func blendWeights(ratio float64) (float32, float32) {
	return float32(ratio), float32(1 - ratio)
}

func blend(x, y, a, b float32) float32 {
	return clamp01(float32(a*x) + float32(b*y))
}

// adjustBrightness blends with black: clamp(f·x, 0, 1).
func adjustBrightness(img []float32, factor float64) {
	a, b := blendWeights(factor)
	for i, v := range img {
		img[i] = blend(v, 0, a, b)
	}
}

// adjustContrast blends each image with the mean of its grayscale version
// (the mean of the image itself when it has one channel).
func adjustContrast(img []float32, c, hw int, factor float64) {
	var sum float64
	if c == 3 {
		r, g, bl := img[:hw], img[hw:2*hw], img[2*hw:3*hw]
		for i := range hw {
			sum += float64(gray(r[i], g[i], bl[i]))
		}
	} else {
		for _, v := range img[:c*hw] {
			sum += float64(v)
		}
	}
	// torch sums in float32 precision and then divides; the float64 sum
	// rounded once is within an ulp of its cascade sum.
	cnt := hw
	if c != 3 {
		cnt = c * hw
	}
	mean := float32(sum) / float32(cnt)
	a, b := blendWeights(factor)
	for i, v := range img[:c*hw] {
		img[i] = blend(v, mean, a, b)
	}
}

// adjustSaturation blends each pixel with its gray value; a no-op for one
// channel, as in torchvision.
func adjustSaturation(img []float32, c, hw int, factor float64) {
	if c != 3 {
		return
	}
	a, b := blendWeights(factor)
	r, g, bl := img[:hw], img[hw:2*hw], img[2*hw:3*hw]
	for i := range hw {
		y := gray(r[i], g[i], bl[i])
		r[i] = blend(r[i], y, a, b)
		g[i] = blend(g[i], y, a, b)
		bl[i] = blend(bl[i], y, a, b)
	}
}

// adjustHue rotates the hue of every pixel by factor (in turns, |factor| ≤
// 0.5); a no-op for one channel.
func adjustHue(img []float32, c, hw int, factor float64) {
	if c != 3 {
		return
	}
	shift := float32(factor)
	r, g, b := img[:hw], img[hw:2*hw], img[2*hw:3*hw]
	for i := range hw {
		h, s, v := rgbToHSV(r[i], g[i], b[i])
		h = floorMod1(h + shift)
		r[i], g[i], b[i] = hsvToRGB(h, s, v)
	}
}

// rgbToHSV is torchvision's _rgb2hsv for one pixel.
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	eqc := maxc == minc
	cr := maxc - minc
	sDiv, crDiv := maxc, cr
	if eqc {
		sDiv, crDiv = 1, 1
	}
	s = cr / sDiv
	rc := (maxc - r) / crDiv
	gc := (maxc - g) / crDiv
	bc := (maxc - b) / crDiv
	// torchvision adds the three masked terms; only one can be non-zero.
	switch {
	case maxc == r:
		h = bc - gc
	case maxc == g:
		h = (2 + rc) - bc
	default:
		h = (4 + gc) - rc
	}
	h = fmod1(h/6 + 1)
	return h, s, maxc
}

// floorMod1 is torch.remainder(a, 1.0) in float32: fmod, plus 1 when
// negative, so a tiny negative a gives exactly 1.0.
func floorMod1(a float32) float32 {
	m := fmod1(a)
	if m != 0 && m < 0 {
		m += 1
	}
	return m
}

// fmod1 is C's fmod(a, 1) for finite a. a − trunc(a) is exact in float
// arithmetic (the fraction of a float is representable), so this equals
// fmod bit for bit, including the sign of a zero result; math.Mod would give
// the same value several times slower.
func fmod1(a float32) float32 {
	r := a - float32(math.Trunc(float64(a)))
	if r == 0 {
		return a * 0 // fmod keeps the sign of a
	}
	return r
}

// hsvToRGB is torchvision's _hsv2rgb for one pixel.
func hsvToRGB(h, s, v float32) (r, g, b float32) {
	h6 := h * 6
	fi := float32(math.Floor(float64(h6)))
	f := h6 - fi
	p := clamp01(v * (1 - s))
	q := clamp01(v * (1 - float32(s*f)))
	t := clamp01(v * (1 - float32(s*(1-f))))
	switch int(fi) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// Colour jitter op ids, as in torchvision's ColorJitter.
const (
	opBrightness = iota
	opContrast
	opSaturation
	opHue
)

// jitter is one draw of ColorJitter: the order of the four ops and their
// factors (float32 values held as float64, as torchvision holds them).
type jitter struct {
	order                                 [4]uint8
	brightness, contrast, saturation, hue float64
}

// apply runs the ops in order on one C×hw image.
func (j *jitter) apply(img []float32, c, hw int) {
	for _, op := range j.order {
		switch op {
		case opBrightness:
			adjustBrightness(img[:c*hw], j.brightness)
		case opContrast:
			adjustContrast(img, c, hw, j.contrast)
		case opSaturation:
			adjustSaturation(img, c, hw, j.saturation)
		case opHue:
			adjustHue(img, c, hw, j.hue)
		}
	}
}

// byteToUnit maps a pixel byte to float32(v)/255, the official scaling.
var byteToUnit = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// cropBytes writes the ch×cw window at (top, left) of a C×H×W byte image into
// dst as float32 in [0,1], mirrored left-right when flip is set (torchvision
// crops first, then flips the crop).
func cropBytes(dst []float32, src []uint8, c, h, w, top, left, ch, cw int, flip bool) {
	for k := range c {
		for i := range ch {
			row := src[(k*h+top+i)*w+left : (k*h+top+i)*w+left+cw]
			out := dst[(k*ch+i)*cw : (k*ch+i+1)*cw]
			if flip {
				for j, v := range row {
					out[cw-1-j] = byteToUnit[v]
				}
			} else {
				for j, v := range row {
					out[j] = byteToUnit[v]
				}
			}
		}
	}
}

// centerOffset is torchvision's center_crop offset, int(round((size−crop)/2)).
func centerOffset(size, crop int) int {
	return int(math.RoundToEven(float64(size-crop) / 2))
}
