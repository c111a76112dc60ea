package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Small datasets in the official formats, built from a seeded generator.

func mustInfo(name string) Info {
	info, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return info
}

// cifarRecords makes n records whose labels cycle through the classes.
func cifarRecords(rng *rand.Rand, n, firstLabel int) []byte {
	raw := make([]byte, n*cifarRecord)
	for i := range n {
		rec := raw[i*cifarRecord : (i+1)*cifarRecord]
		rec[0] = byte((firstLabel + i) % 10)
		for j := 1; j < len(rec); j++ {
			rec[j] = byte(rng.UintN(256))
		}
	}
	return raw
}

// cifarMembersFor makes all members with perBatch records in each batch.
func cifarMembersFor(seed uint64, perBatch int) map[string][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := map[string][]byte{}
	for i, name := range cifarTrain {
		m[name] = cifarRecords(rng, perBatch, i)
	}
	m[cifarTest] = cifarRecords(rng, perBatch, 3)
	m[cifarMeta] = []byte(strings.Join(mustInfo("cifar10").Classes, "\n") + "\n\n")
	return m
}

type tarMember struct {
	name string
	data []byte
	typ  byte
}

// cifarTar writes members in the given order (the official archive has the
// folder entry and readme.html too) as a tar, gzip'd if gz.
func cifarTar(t testing.TB, members []tarMember, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := tar.NewWriter(w)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	}
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: typ}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// officialOrder lists members as an archive would, in a scrambled order with
// the folder entry and an unrelated readme.
func officialOrder(m map[string][]byte) []tarMember {
	out := []tarMember{{name: cifarFolder + "/", typ: tar.TypeDir}}
	for _, name := range []string{"data_batch_4.bin", cifarMeta, "data_batch_1.bin", cifarTest,
		"data_batch_3.bin", "data_batch_5.bin", "data_batch_2.bin"} {
		out = append(out, tarMember{name: cifarFolder + "/" + name, data: m[name]})
	}
	out = append(out, tarMember{name: cifarFolder + "/readme.html", data: []byte("<html></html>")})
	return out
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encodeIDX(dims []int, values []byte) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, idxTypeUint8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&buf, binary.BigEndian, uint32(d))
	}
	buf.Write(values)
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// idxSet is the four files of an MNIST-style dataset.
type idxSet map[string][]byte

func makeIDXSet(seed uint64, nTrain, nTest int) idxSet {
	rng := rand.New(rand.NewPCG(seed, 2))
	set := idxSet{}
	for _, sp := range []struct {
		images, labels string
		n              int
	}{{idxFiles.trainImages, idxFiles.trainLabels, nTrain}, {idxFiles.testImages, idxFiles.testLabels, nTest}} {
		px := make([]byte, sp.n*28*28)
		for i := range px {
			px[i] = byte(rng.UintN(256))
		}
		lb := make([]byte, sp.n)
		for i := range lb {
			lb[i] = byte(rng.UintN(10))
		}
		set[sp.images] = encodeIDX([]int{sp.n, 28, 28}, px)
		set[sp.labels] = encodeIDX([]int{sp.n}, lb)
	}
	return set
}

func (s idxSet) write(t testing.TB, dir string, gz bool) {
	for name, b := range s {
		if gz {
			writeFile(t, filepath.Join(dir, name+".gz"), gzipBytes(t, b))
		} else {
			writeFile(t, filepath.Join(dir, name), b)
		}
	}
}
