package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"go/build"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// referencePrepare is the original whole-image implementation of
// deepnmf predict (cmd/deepnmf/predict.go up to a9231a0): every pixel through
// color.NRGBAModel into a float64 copy of the image, a full separable resize,
// then the crop. ReadImage must give exactly its values.
func referencePrepare(img image.Image, info Info, dst []float32) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ch := info.Channels
	src := make([]float64, ch*w*h)
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			if ch == 1 {
				src[y*w+x] = float64((int(c.R)*299 + int(c.G)*587 + int(c.B)*114 + 500) / 1000)
			} else {
				src[0*w*h+y*w+x] = float64(c.R)
				src[1*w*h+y*w+x] = float64(c.G)
				src[2*w*h+y*w+x] = float64(c.B)
			}
		}
	}
	scale := float64(info.Size) / float64(min(w, h))
	rw, rh := max(info.Size, int(math.Round(float64(w)*scale))), max(info.Size, int(math.Round(float64(h)*scale)))
	tmp := make([]float64, ch*h*rw)
	for c := range ch {
		for y := range h {
			referenceResample(src[c*w*h+y*w:], 1, w, tmp[c*h*rw+y*rw:], 1, rw)
		}
	}
	resized := make([]float64, ch*rh*rw)
	for c := range ch {
		for x := range rw {
			referenceResample(tmp[c*h*rw+x:], rw, h, resized[c*rh*rw+x:], rw, rh)
		}
	}
	left := (rw-info.Size)/2 + (info.Size-info.Crop)/2
	top := (rh-info.Size)/2 + (info.Size-info.Crop)/2
	for c := range ch {
		for y := range info.Crop {
			for x := range info.Crop {
				v := resized[c*rw*rh+(top+y)*rw+left+x]
				dst[c*info.Crop*info.Crop+y*info.Crop+x] = float32(uint8(min(max(math.Round(v), 0), 255))) / 255
			}
		}
	}
}

func referenceResample(src []float64, sstride, n int, dst []float64, dstride, m int) {
	scale := float64(n) / float64(m)
	for i := range m {
		if scale >= 1 {
			lo, hi := float64(i)*scale, float64(i+1)*scale
			var sum float64
			for j := int(lo); j < n && float64(j) < hi; j++ {
				overlap := min(hi, float64(j+1)) - max(lo, float64(j))
				sum += overlap * src[j*sstride]
			}
			dst[i*dstride] = sum / scale
			continue
		}
		pos := min(max((float64(i)+0.5)*scale-0.5, 0), float64(n-1))
		j := min(int(pos), n-2)
		if n == 1 {
			dst[i*dstride] = src[0]
			continue
		}
		f := pos - float64(j)
		dst[i*dstride] = (1-f)*src[j*sstride] + f*src[(j+1)*sstride]
	}
}

// randomImage makes a w×h image of the given kind with random pixels (and
// random alpha where the kind has one).
func randomImage(r *rand.Rand, kind string, w, h int) image.Image {
	rect := image.Rect(3, -2, 3+w, -2+h) // a non-zero origin, as SubImage gives
	switch kind {
	case "nrgba":
		m := image.NewNRGBA(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	case "rgba":
		m := image.NewRGBA(rect)
		for i := 0; i < len(m.Pix); i += 4 {
			a := uint8(r.IntN(256))
			if r.IntN(2) == 0 {
				a = 255
			}
			m.Pix[i+3] = a
			for k := range 3 {
				m.Pix[i+k] = uint8(r.IntN(int(a) + 1)) // premultiplied: ≤ alpha
			}
		}
		return m
	case "gray":
		m := image.NewGray(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	case "gray16":
		m := image.NewGray16(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	case "nrgba64":
		m := image.NewNRGBA64(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	case "paletted":
		pal := color.Palette{}
		for range 16 {
			pal = append(pal, color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))})
		}
		m := image.NewPaletted(rect, pal)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(16))
		}
		return m
	case "ycbcr":
		m := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(r.IntN(256))
			}
		}
		return m
	}
	panic(kind)
}

// The crop-only resize gives exactly the values of the whole-image resize,
// for every image type the decoders produce, shrinking and enlarging, square
// and very elongated images.
func TestPrepareImageMatchesWholeImageResize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{1, 1}, {1, 40}, {40, 1}, {20, 50}, {97, 33}, {28, 28}, {32, 32}, {64, 64}, {33, 31}, {300, 200}, {1000, 3}, {29, 700}}
	kinds := []string{"nrgba", "rgba", "gray", "gray16", "nrgba64", "paletted", "ycbcr"}
	for _, name := range []string{"cifar10", "mnist"} {
		info := mustInfo(name)
		n := info.Channels * info.Crop * info.Crop
		for _, kind := range kinds {
			for _, sz := range sizes {
				img := randomImage(r, kind, sz[0], sz[1])
				want, got := make([]float32, n), make([]float32, n)
				referencePrepare(img, info, want)
				prepareImage(img, info, got)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s %s %v: value %d = %v, the whole-image resize gives %v", name, kind, sz, i, got[i], want[i])
				}
			}
		}
	}
}

func firstDiff(a, b []float32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func writeImageFile(t testing.TB, path string, img image.Image) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".jpg") {
		err = jpeg.Encode(f, img, nil)
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(f, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Through files too: PNG and JPEG give what the reference gives on the
// decoded image.
func TestReadImageFiles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	for _, c := range []struct {
		file, kind string
		w, h       int
	}{{"a.png", "nrgba", 45, 37}, {"b.png", "gray", 28, 28}, {"c.jpg", "ycbcr", 50, 70}, {"d.png", "paletted", 9, 200}} {
		path := writeImageFile(t, filepath.Join(dir, c.file), randomImage(r, c.kind, c.w, c.h))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"cifar10", "mnist"} {
			info := mustInfo(name)
			n := info.Channels * info.Crop * info.Crop
			want, got := make([]float32, n), make([]float32, n)
			referencePrepare(img, info, want)
			if err := ReadImage(path, info, got); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s as %s: value %d = %v, want %v", c.file, name, i, got[i], want[i])
			}
		}
	}
}

// A 32×32 image must be prepared exactly as the test loader prepares it
// (CenterCrop 28, /255); a 64×64 image made of 2×2 blocks of the same pixels
// must downscale back to it.
func TestReadImageMatchesEvalLoader(t *testing.T) {
	info := mustInfo("cifar10")
	r := rand.New(rand.NewPCG(3, 4))
	split := Split{N: 1, C: 3, H: 32, W: 32, Images: make([]uint8, 3*32*32), Labels: []uint8{0}}
	for i := range split.Images {
		split.Images[i] = uint8(r.IntN(256))
	}
	loader, err := NewLoader(info, &split, EvalConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 3*28*28)
	if _, err := loader.Fill(0, 0, want, make([]int, 1)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, scale := range []int{1, 2} {
		img := image.NewNRGBA(image.Rect(0, 0, 32*scale, 32*scale))
		for y := range 32 * scale {
			for x := range 32 * scale {
				p := (y/scale)*32 + x/scale
				img.SetNRGBA(x, y, color.NRGBA{split.Images[p], split.Images[1024+p], split.Images[2048+p], 255})
			}
		}
		path := writeImageFile(t, filepath.Join(dir, "img.png"), img)
		got := make([]float32, len(want))
		if err := ReadImage(path, info, got); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("scale %d: value %d = %v, the eval loader gives %v", scale, i, got[i], want[i])
		}
	}
}

func TestReadImageRejectsNonImage(t *testing.T) {
	info := mustInfo("cifar10")
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(path, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, info.Channels*info.Crop*info.Crop)
	err := ReadImage(path, info, dst)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a PNG or JPEG") {
		t.Fatalf("error %v, want one naming %s as not a PNG or JPEG image", err, path)
	}
	if err := ReadImage(dir, info, dst); err == nil || !strings.Contains(err.Error(), dir+" is a directory") {
		t.Errorf("error %v, want one naming %s as a directory", err, dir)
	}
	if err := ReadImage(path, info, dst[1:]); err == nil || !strings.Contains(err.Error(), "destination holds") {
		t.Errorf("short destination: %v", err)
	}
}

// hugePNG is a valid PNG header claiming w×h 8-bit grey pixels, followed by
// a tiny IDAT and IEND: a few dozen bytes that would decode to w·h bytes.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (grey), no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}) // zlib of one zero byte
	chunk("IEND", nil)
	return b.Bytes()
}

// P2 of issue 16: a tiny PNG whose header claims 60000×60000 is refused from
// its header, naming the file, the dimensions and the limit, without
// allocating the 3.6 GB its pixels would take.
func TestReadImageRefusesHugeHeader(t *testing.T) {
	raw := hugePNG(60000, 60000)
	path := filepath.Join(t.TempDir(), "bomb.png")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	info := mustInfo("cifar10")
	dst := make([]float32, info.Channels*info.Crop*info.Crop)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := ReadImage(path, info, dst)
	runtime.ReadMemStats(&after)
	var tooLarge *ImageTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Width != 60000 || tooLarge.Height != 60000 {
		t.Fatalf("%d-byte PNG claiming 60000×60000: got %v, want an *ImageTooLargeError", len(raw), err)
	}
	for _, want := range []string{path, "60000×60000", "3600 megapixels", "limit of 50 megapixels"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("refusing the header allocated %d bytes", got)
	}
	// Just under the limit the same kind of file is decoded (and found
	// truncated), which shows the limit, not the format, refused it above.
	small := filepath.Join(t.TempDir(), "small.png")
	os.WriteFile(small, hugePNG(100, 100), 0o644)
	if err := ReadImage(small, info, dst); err == nil || errors.As(err, &tooLarge) {
		t.Errorf("100×100 with one byte of pixels: got %v, want a decoding error", err)
	}
}

// P3 of issue 16: a large allowed image costs the decoded image and little
// more; the whole-image float64 copy (24 bytes a pixel for RGB) is gone.
func TestReadImageBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 4000×4000 PNG")
	}
	const side = 4000
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(x), uint8(y), uint8(x^y), 255
		}
	}
	path := writeImageFile(t, filepath.Join(t.TempDir(), "big.png"), img)
	decoded := uint64(len(img.Pix)) // an opaque RGB PNG decodes to *image.RGBA
	info := mustInfo("cifar10")
	got := make([]float32, info.Channels*info.Crop*info.Crop)
	img = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := ReadImage(path, info, got); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc
	t.Logf("ReadImage of a %d×%d PNG allocated %.1f MB; the decoded image is %.1f MB", side, side, float64(total)/1e6, float64(decoded)/1e6)
	if extra := int64(total) - int64(decoded); extra > int64(decoded)/4 {
		t.Errorf("allocated %d bytes beyond the %d-byte decoded image", extra, decoded)
	}
}

// The deepnmf binary must be able to decode PNG and JPEG through this
// package alone (the tests import the encoders, which register the decoders
// in the test binary only), so check the non-test imports.
func TestReadImageRegistersDecoders(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image/png", "image/jpeg"} {
		if !slices.Contains(pkg.Imports, want) {
			t.Errorf("package data does not import %s: ReadImage could not decode such files", want)
		}
	}
}
