package data

import (
	"bytes"
	"errors"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func checkCIFARSplits(t *testing.T, ds *Dataset, m map[string][]byte) {
	t.Helper()
	// Independent decoding: record i of the concatenated batches.
	check := func(split *Split, files []string) {
		var all []byte
		for _, f := range files {
			all = append(all, m[f]...)
		}
		if split.N != len(all)/cifarRecord {
			t.Fatalf("N = %d, want %d", split.N, len(all)/cifarRecord)
		}
		for i := range split.N {
			rec := all[i*cifarRecord:]
			if split.Label(i) != int(rec[0]) || !bytes.Equal(split.Image(i), rec[1:cifarRecord]) {
				t.Fatalf("record %d differs", i)
			}
		}
	}
	check(&ds.Train, cifarTrain)
	check(&ds.Test, []string{cifarTest})
}

func TestCIFARArchiveAndFolder(t *testing.T) {
	m := cifarMembersFor(1, 7)
	for _, gz := range []bool{true, false} {
		members, err := readCIFARStream(bytes.NewReader(cifarTar(t, officialOrder(m), gz)), "test.tar")
		if err != nil {
			t.Fatal(err)
		}
		ds, err := assembleCIFAR(mustInfo("cifar10"), "test.tar", members)
		if err != nil {
			t.Fatal(err)
		}
		checkCIFARSplits(t, ds, m)
	}
	// Through Load: archive only, then the extracted folder (which wins).
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "cifar10", cifarArchive), cifarTar(t, officialOrder(m), true))
	ds, err := Load("cifar10", root)
	if err != nil {
		t.Fatal(err)
	}
	checkCIFARSplits(t, ds, m)
	if !strings.HasSuffix(ds.Source, cifarArchive) {
		t.Errorf("source %s", ds.Source)
	}
	m2 := cifarMembersFor(2, 3)
	for name, b := range m2 {
		writeFile(t, filepath.Join(root, "cifar10", cifarFolder, name), b)
	}
	ds, err = Load("cifar10", root)
	if err != nil {
		t.Fatal(err)
	}
	checkCIFARSplits(t, ds, m2)
	if err := CheckOfficial(ds); err == nil {
		t.Error("CheckOfficial accepted 15 training images")
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	t.Log(err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func TestCIFARDefects(t *testing.T) {
	info := mustInfo("cifar10")
	good := cifarMembersFor(3, 4)
	load := func(m map[string][]byte) error {
		_, err := assembleCIFAR(info, "arc", m)
		return err
	}
	mod := func(f func(m map[string][]byte)) map[string][]byte {
		m := maps.Clone(good)
		f(m)
		return m
	}
	wantErr(t, load(mod(func(m map[string][]byte) { delete(m, "data_batch_3.bin") })), "arc", "missing member", "data_batch_3.bin")
	wantErr(t, load(mod(func(m map[string][]byte) { delete(m, cifarMeta) })), "missing member", cifarMeta)
	wantErr(t, load(mod(func(m map[string][]byte) { m[cifarTest] = m[cifarTest][:len(m[cifarTest])-5] })), cifarTest, "not a multiple of the 3073-byte record")
	wantErr(t, load(mod(func(m map[string][]byte) { m["data_batch_2.bin"] = nil })), "data_batch_2.bin", "no records")
	wantErr(t, load(mod(func(m map[string][]byte) {
		b := slices.Clone(m["data_batch_5.bin"])
		b[2*cifarRecord] = 10
		m["data_batch_5.bin"] = b
	})), "data_batch_5.bin", "record 2", "label 10")
	wantErr(t, load(mod(func(m map[string][]byte) { m[cifarMeta] = []byte("airplane\ncar\n") })), cifarMeta, "2 class names")

	// Archive-level defects.
	stream := func(b []byte) error {
		_, err := readCIFARStream(bytes.NewReader(b), "arc.tar.gz")
		return err
	}
	full := cifarTar(t, officialOrder(good), true)
	wantErr(t, stream(full[:len(full)/2]), "arc.tar.gz")
	corrupt := slices.Clone(full)
	corrupt[len(corrupt)-6] ^= 0xff // inside the gzip CRC/length trailer
	wantErr(t, stream(corrupt), "arc.tar.gz")
	wantErr(t, stream([]byte{0x1f, 0x8b, 1, 2}), "arc.tar.gz", "gzip")
	members := officialOrder(good)
	members = append(members, members[1])
	wantErr(t, stream(cifarTar(t, members, true)), "appears twice")
	members = officialOrder(good)
	members[1] = tarMember{name: members[1].name, typ: '2'} // a symlink
	wantErr(t, stream(cifarTar(t, members, false)), "not a regular file")

	// Load: nothing there, and a truncated member in an extracted folder.
	root := t.TempDir()
	_, err := Load("cifar10", root)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty root: %v, want ErrNotFound", err)
	}
	wantErr(t, err, root, "deepnmf data fetch --dataset cifar10")
	for name, b := range good {
		if name == "data_batch_1.bin" {
			b = b[:100]
		}
		writeFile(t, filepath.Join(root, "cifar10", cifarFolder, name), b)
	}
	_, err = Load("cifar10", root)
	wantErr(t, err, "data_batch_1.bin", "not a multiple")
}

func TestIDXLoad(t *testing.T) {
	for _, gz := range []bool{true, false} {
		root := t.TempDir()
		set := makeIDXSet(4, 9, 5)
		set.write(t, filepath.Join(root, "fashion-mnist"), gz)
		ds, err := Load("fashion-mnist", root)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Train.N != 9 || ds.Test.N != 5 || ds.Train.C != 1 || ds.Train.H != 28 {
			t.Fatalf("shape %+v", ds.Train)
		}
		// Independent decoding: pixels start at byte 16, labels at byte 8.
		if !bytes.Equal(ds.Train.Images, set[idxFiles.trainImages][16:]) ||
			!bytes.Equal(ds.Test.Labels, set[idxFiles.testLabels][8:]) {
			t.Fatal("decoded data differ from the file contents")
		}
		if err := CheckOfficial(ds); err == nil {
			t.Error("CheckOfficial accepted 9 training images")
		}
	}
}

func TestIDXDefects(t *testing.T) {
	px := make([]byte, 2*28*28)
	parse := func(b []byte) error {
		_, _, err := readIDX(bytes.NewReader(b), "f.idx", 0)
		return err
	}
	good := encodeIDX([]int{2, 28, 28}, px)
	if err := parse(good); err != nil {
		t.Fatal(err)
	}
	wantErr(t, parse(good[:3]), "f.idx", "magic")
	wantErr(t, parse(append([]byte{0, 1}, good[2:]...)), "f.idx", "bad IDX magic")
	wantErr(t, parse(append([]byte{0, 0, 0x0d}, good[3:]...)), "type 0x0d")
	wantErr(t, parse(append([]byte{0, 0, 8, 0}, good[4:]...)), "0 dimensions")
	wantErr(t, parse(good[:10]), "dimensions")
	wantErr(t, parse(good[:len(good)-1]), "f.idx", "truncated")
	wantErr(t, parse(append(slices.Clone(good), 7, 7)), "f.idx", "2 unexpected trailing bytes")
	wantErr(t, parse(encodeIDX([]int{1 << 20, 1 << 10, 1 << 10}, nil)), "claim more than")

	info := mustInfo("mnist")
	images := func(n, h int) ([]int, []byte) { return []int{n, h, h}, make([]byte, n*h*h) }
	split := func(idims []int, ipx []byte, ldims []int, lb []byte) error {
		_, err := idxSplit(info, "img", idims, ipx, "lbl", ldims, lb)
		return err
	}
	d, b := images(3, 28)
	if err := split(d, b, []int{3}, []byte{0, 9, 5}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, split(d, b, []int{3}, []byte{0, 10, 5}), "lbl", "label 1 is 10")
	wantErr(t, split(d, b, []int{4}, []byte{0, 1, 2, 3}), "img has 3 images but lbl has 4 labels")
	wantErr(t, split(d, b, []int{3, 1}, []byte{0, 1, 2}), "lbl", "label dimensions")
	d2, b2 := images(3, 32)
	wantErr(t, split(d2, b2, []int{3}, []byte{0, 1, 2}), "img", "image dimensions [3 32 32]")

	// Load: a missing file, and a gzip file with a bad CRC.
	root := t.TempDir()
	dir := filepath.Join(root, "mnist")
	set := makeIDXSet(5, 4, 3)
	set.write(t, dir, true)
	corrupt := gzipBytes(t, set[idxFiles.testImages])
	corrupt[len(corrupt)-8] ^= 1
	writeFile(t, filepath.Join(dir, idxFiles.testImages+".gz"), corrupt)
	_, err := Load("mnist", root)
	wantErr(t, err, idxFiles.testImages)
	if errors.Is(err, ErrNotFound) {
		t.Error("a corrupt file reported as not found")
	}
	root2 := t.TempDir()
	set2 := makeIDXSet(5, 4, 3)
	delete(set2, idxFiles.trainLabels)
	set2.write(t, filepath.Join(root2, "mnist"), true)
	_, err = Load("mnist", root2)
	wantErr(t, err, "missing", idxFiles.trainLabels)
	_, err = Load("mnist", t.TempDir())
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty root: %v", err)
	}
	wantErr(t, err, "deepnmf data fetch --dataset mnist")
	_, err = Load("svhn", root)
	wantErr(t, err, "unknown dataset", "cifar10")
}

func TestResolveDir(t *testing.T) {
	t.Setenv(EnvDataDir, "/from/env")
	if d, _ := ResolveDir("/from/flag"); d != "/from/flag" {
		t.Errorf("flag: %s", d)
	}
	if d, _ := ResolveDir(""); d != "/from/env" {
		t.Errorf("env: %s", d)
	}
	t.Setenv(EnvDataDir, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Setenv("HOME", "/home/x")
	if d, _ := ResolveDir(""); runtime.GOOS == "linux" && d != filepath.Join("/cache", "deepnmf") {
		t.Errorf("cache: %s", d)
	}
	if d, _ := ResolveDir("rel"); !filepath.IsAbs(d) {
		t.Errorf("relative flag not made absolute: %s", d)
	}
}
