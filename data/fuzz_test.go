package data

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// The parsers must return an error, never panic, on any input; what they
// accept must be self-consistent. Seeds: testdata/fuzz/<FuzzName>/.

func FuzzCIFARArchive(f *testing.F) {
	info := mustInfo("cifar10")
	f.Fuzz(func(t *testing.T, b []byte) {
		members, err := readCIFARStream(bytes.NewReader(b), "fuzz.tar")
		if err != nil {
			return
		}
		ds, err := assembleCIFAR(info, "fuzz.tar", members)
		if err != nil {
			return
		}
		for _, s := range []*Split{&ds.Train, &ds.Test} {
			if s.N == 0 || len(s.Images) != s.N*cifarPixels || len(s.Labels) != s.N {
				t.Fatalf("inconsistent split: N %d, %d pixels, %d labels", s.N, len(s.Images), len(s.Labels))
			}
			for _, l := range s.Labels {
				if l >= 10 {
					t.Fatalf("label %d accepted", l)
				}
			}
		}
	})
}

func FuzzCIFARRecords(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := countCIFARRecords(raw)
		if err != nil {
			return
		}
		images, labels := make([]uint8, n*cifarPixels), make([]uint8, n)
		got, err := decodeCIFARRecords(raw, images, labels, 10)
		if err != nil {
			return
		}
		if got != n {
			t.Fatalf("decoded %d of %d records", got, n)
		}
		// Accepted records re-encode to the input.
		var re []byte
		for i := range n {
			re = append(re, labels[i])
			re = append(re, images[i*cifarPixels:(i+1)*cifarPixels]...)
		}
		if !bytes.Equal(re, raw) {
			t.Fatal("records do not round-trip")
		}
	})
}

func FuzzIDX(f *testing.F) {
	info := mustInfo("mnist")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, gz, err := maybeGunzip(bytes.NewReader(b))
		if err != nil {
			return
		}
		dims, values, err := readIDX(r, "fuzz.idx", int64(len(b)))
		if err != nil {
			return
		}
		total := 1
		for _, d := range dims {
			total *= d
		}
		if total != len(values) {
			t.Fatalf("dims %v but %d values", dims, len(values))
		}
		if !gz && !bytes.Equal(encodeIDX(dims, values), b) {
			t.Fatal("accepted IDX does not round-trip")
		}
		// The split check must not panic on whatever was accepted.
		_, _ = idxSplit(info, "img", dims, values, "lbl", dims[:1], values[:min(len(values), dims[0])])
	})
}

// FuzzReadImage: any bytes as a PNG or JPEG file give an error or a prepared
// image with every value in [0, 1]; the header's size is checked before
// decoding (the limit is lowered to 1 megapixel here so that each run stays
// fast; the check is the same).
func FuzzReadImage(f *testing.F) {
	for _, kind := range []string{"gray", "nrgba", "paletted"} {
		var b bytes.Buffer
		if err := png.Encode(&b, randomImage(rand.New(rand.NewPCG(1, 1)), kind, 5, 7)); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, randomImage(rand.New(rand.NewPCG(1, 2)), "ycbcr", 8, 8), nil); err != nil {
		f.Fatal(err)
	}
	f.Add(j.Bytes())
	f.Add(hugePNG(60000, 60000))
	f.Add(hugePNG(3, 2))
	infos := []Info{mustInfo("cifar10"), mustInfo("mnist")}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, info := range infos {
			dst := make([]float32, info.Channels*info.Crop*info.Crop)
			if err := readImage(bytes.NewReader(b), "fuzz", info, dst, 1<<20); err != nil {
				continue
			}
			for i, v := range dst {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s: value %d = %v outside [0, 1]", info.Name, i, v)
				}
			}
		}
	})
}
