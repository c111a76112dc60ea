package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder with image.Decode
	_ "image/png"  // registers the PNG decoder with image.Decode
	"io"
	"math"
	"os"
)

// MaxImagePixels bounds width×height of an image that ReadImage decodes.
// The decoded image is held in memory at 4 to 8 bytes per pixel (8-bit or
// 16-bit RGBA), so the limit keeps a single image under about 400 MB; a
// header that claims more (a 74-byte PNG can claim 60000×60000) is refused
// before any pixel buffer is made.
const MaxImagePixels = 50_000_000

// ImageTooLargeError is returned by ReadImage for an image whose header
// claims more than Limit pixels.
type ImageTooLargeError struct {
	Path          string
	Width, Height int
	Limit         int64
}

func (e *ImageTooLargeError) Error() string {
	return fmt.Sprintf("%s: image of %d×%d pixels (%d megapixels) exceeds the limit of %d megapixels (data.MaxImagePixels); scale it down first",
		e.Path, e.Width, e.Height, int64(e.Width)*int64(e.Height)/1_000_000, e.Limit/1_000_000)
}

// ReadImage decodes a PNG or JPEG file and writes it into dst prepared as the
// test images of info are: converted to RGB (or to grayscale with PIL's L
// weights when info.Channels is 1), resized so that its shorter side is
// info.Size (area averaging when shrinking, bilinear when enlarging, each
// axis separately, in float64), centre-cropped to info.Size, centre-cropped
// to info.Crop as the evaluation CenterCrop, rounded to 8 bits and divided by
// 255. dst must hold info.Channels×info.Crop×info.Crop values (CHW).
//
// The header is read first: images over MaxImagePixels give an
// *ImageTooLargeError without being decoded. Only the decoded image itself
// grows with the file; the resize computes the crop's pixels alone, from the
// source rows and columns they cover.
func ReadImage(path string, info Info, dst []float32) error {
	if info.Channels != 1 && info.Channels != 3 {
		return fmt.Errorf("%s: dataset %q has %d channels; images can be read for 1 or 3", path, info.Name, info.Channels)
	}
	if info.Crop < 1 || info.Crop > info.Size {
		return fmt.Errorf("%s: dataset %q: crop %d outside [1, size %d]", path, info.Name, info.Crop, info.Size)
	}
	if need := info.Channels * info.Crop * info.Crop; len(dst) != need {
		return fmt.Errorf("%s: destination holds %d values, a %d×%d×%d image needs %d", path, len(dst), info.Channels, info.Crop, info.Crop, need)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		// Decoding it would report an unknown image format.
		return fmt.Errorf("%s is a directory, not an image file", path)
	}
	return readImage(f, path, info, dst, MaxImagePixels)
}

// readImage is ReadImage on an open file, with the pixel limit as a
// parameter (the fuzz test lowers it to keep each run fast).
func readImage(f io.ReadSeeker, path string, info Info, dst []float32, maxPixels int64) error {
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return decodeErr(path, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("%s: empty image (%d×%d)", path, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return &ImageTooLargeError{Path: path, Width: cfg.Width, Height: cfg.Height, Limit: maxPixels}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return decodeErr(path, err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return fmt.Errorf("%s: decoded %d×%d pixels, the header says %d×%d", path, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	prepareImage(img, info, dst)
	return nil
}

func decodeErr(path string, err error) error {
	if errors.Is(err, image.ErrFormat) {
		return fmt.Errorf("%s: not a PNG or JPEG image", path)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// prepareImage resizes, crops and scales img into dst (see ReadImage).
//
// The resize is separable: a horizontal pass over each source row, then a
// vertical pass over the results. Each output value depends only on the
// source samples its span covers, so computing only the crop's columns of
// the source rows its rows cover gives, value for value and in the same
// order of operations, what resizing the whole image and cropping gives.
func prepareImage(img image.Image, info Info, dst []float32) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ch, crop := info.Channels, info.Crop
	scale := float64(info.Size) / float64(min(w, h))
	rw, rh := max(info.Size, int(math.Round(float64(w)*scale))), max(info.Size, int(math.Round(float64(h)*scale)))
	left := (rw-info.Size)/2 + (info.Size-crop)/2
	top := (rh-info.Size)/2 + (info.Size-crop)/2

	// Source columns [x0, x1) feed output columns [left, left+crop), source
	// rows [y0, y1) feed output rows [top, top+crop).
	x0, x1 := sourceSpan(w, rw, left, left+crop)
	y0, y1 := sourceSpan(h, rh, top, top+crop)
	pixel := pixelReader(img)

	// row holds one source row's span as float64 per channel; tmp the
	// horizontally resized rows y0..y1 for the crop's columns.
	sw, sh := x1-x0, y1-y0
	row := make([]float64, ch*sw)
	tmp := make([]float64, ch*sh*crop)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			r, g, bl := pixel(b.Min.X+x, b.Min.Y+y)
			if ch == 1 {
				// PIL's convert("L"): L = R·299/1000 + G·587/1000 + B·114/1000.
				row[x-x0] = float64((int(r)*299 + int(g)*587 + int(bl)*114 + 500) / 1000)
			} else {
				row[x-x0], row[sw+x-x0], row[2*sw+x-x0] = float64(r), float64(g), float64(bl)
			}
		}
		for c := range ch {
			for x := range crop {
				tmp[c*sh*crop+(y-y0)*crop+x] = resampleAt(row[c*sw:(c+1)*sw], 1, x0, w, rw, left+x)
			}
		}
	}
	for c := range ch {
		for y := range crop {
			for x := range crop {
				v := resampleAt(tmp[c*sh*crop+x:], crop, y0, h, rh, top+y)
				dst[c*crop*crop+y*crop+x] = float32(uint8(min(max(math.Round(v), 0), 255))) / 255
			}
		}
	}
}

// pixelReader returns a function giving the 8-bit non-premultiplied RGB of
// a pixel exactly as color.NRGBAModel.Convert does, with fast paths for the
// image types PNG and JPEG decode to (img.At boxes every pixel).
func pixelReader(img image.Image) func(x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.NRGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			c := m.NRGBAAt(x, y)
			return c.R, c.G, c.B
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) { return unpremultiply(m.RGBAAt(x, y).RGBA()) }
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.GrayAt(x, y).Y
			return v, v, v
		}
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) { return unpremultiply(m.YCbCrAt(x, y).RGBA()) }
	}
	return func(x, y int) (uint8, uint8, uint8) {
		c := img.At(x, y)
		if n, ok := c.(color.NRGBA); ok {
			return n.R, n.G, n.B
		}
		return unpremultiply(c.RGBA())
	}
}

// unpremultiply is color.NRGBAModel's conversion of a premultiplied 16-bit
// colour, without the interface boxing.
func unpremultiply(r, g, b, a uint32) (uint8, uint8, uint8) {
	switch a {
	case 0xffff:
		return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
	case 0:
		return 0, 0, 0
	}
	r = (r * 0xffff) / a
	g = (g * 0xffff) / a
	b = (b * 0xffff) / a
	return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
}

// sourceSpan returns the source indices [lo, hi) that outputs [i0, i1) of a
// resampling of n samples to m read (see resampleAt).
func sourceSpan(n, m, i0, i1 int) (lo, hi int) {
	lo, hi = n, 0
	for i := i0; i < i1; i++ {
		a, b := taps(n, m, i)
		lo, hi = min(lo, a), max(hi, b)
	}
	return lo, hi
}

// taps returns the source indices [lo, hi) that output i reads.
func taps(n, m, i int) (lo, hi int) {
	scale := float64(n) / float64(m)
	if scale >= 1 {
		lo = int(float64(i) * scale)
		end := float64(i+1) * scale
		hi = lo
		for hi < n && float64(hi) < end {
			hi++
		}
		return lo, hi
	}
	if n == 1 {
		return 0, 1
	}
	pos := min(max((float64(i)+0.5)*scale-0.5, 0), float64(n-1))
	j := min(int(pos), n-2)
	return j, j + 2
}

// resampleAt is output i of resampling n samples to m: the mean of the
// source area it covers when shrinking, bilinear interpolation when
// enlarging. Source sample j is src[(j-off)*stride].
func resampleAt(src []float64, stride, off, n, m, i int) float64 {
	at := func(j int) float64 { return src[(j-off)*stride] }
	scale := float64(n) / float64(m)
	if scale >= 1 {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		var sum float64
		for j := int(lo); j < n && float64(j) < hi; j++ {
			overlap := min(hi, float64(j+1)) - max(lo, float64(j))
			sum += overlap * at(j)
		}
		return sum / scale
	}
	if n == 1 {
		return at(0)
	}
	pos := min(max((float64(i)+0.5)*scale-0.5, 0), float64(n-1))
	j := min(int(pos), n-2)
	f := pos - float64(j)
	return (1-f)*at(j) + f*at(j+1)
}
