package data

import (
	"bytes"
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
