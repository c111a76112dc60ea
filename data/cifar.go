package data

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The CIFAR-10 binary version: each record is 1 label byte then the 32×32
// red, green and blue planes (so CHW already). The official archive holds the
// files in the folder cifar-10-batches-bin/.
const (
	cifarArchive = "cifar-10-binary.tar.gz"
	cifarFolder  = "cifar-10-batches-bin"
	cifarPixels  = 3 * 32 * 32
	cifarRecord  = 1 + cifarPixels
	cifarMeta    = "batches.meta.txt"
	cifarTest    = "test_batch.bin"
	// An official batch file has 10000 records (30.7 MB). Bigger members are
	// refused before reading: a tar header (a sparse one especially) can
	// claim any size.
	cifarMaxMember = 64 << 20
)

var cifarTrain = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}

func cifarMembers() []string {
	return append(append([]string{}, cifarTrain...), cifarTest, cifarMeta)
}

func loadCIFAR(info Info, root string) (*Dataset, error) {
	dir := DatasetDir(root, info.Name)
	extracted := filepath.Join(dir, cifarFolder)
	archive := filepath.Join(dir, cifarArchive)
	// The extracted folder wins when both exist: it skips decompression.
	if st, err := os.Stat(extracted); err == nil && st.IsDir() {
		members, err := readCIFARDir(extracted)
		if err != nil {
			return nil, err
		}
		return assembleCIFAR(info, extracted, members)
	}
	if exists(archive) {
		f, err := os.Open(archive)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		members, err := readCIFARStream(f, archive)
		if err != nil {
			return nil, err
		}
		return assembleCIFAR(info, archive, members)
	}
	return nil, notFound(info.Name, extracted+"/ and "+archive)
}

func readCIFARDir(dir string) (map[string][]byte, error) {
	members := map[string][]byte{}
	for _, name := range cifarMembers() {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: missing file %s", dir, name)
		}
		if err != nil {
			return nil, err
		}
		size := fileSize(f)
		if size > cifarMaxMember {
			f.Close()
			return nil, fmt.Errorf("%s: %d bytes, more than the %d a CIFAR-10 batch file can plausibly have", p, size, cifarMaxMember)
		}
		b, err := readExactly(f, size, size)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		members[name] = b
	}
	return members, nil
}

// readCIFARStream reads the wanted members of a CIFAR-10 tar archive, gzip'd
// (the official file) or not, without extracting anything to disk. source
// names the archive in errors.
func readCIFARStream(r io.Reader, source string) (map[string][]byte, error) {
	zr, gz, err := maybeGunzip(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	wanted := map[string]bool{}
	for _, m := range cifarMembers() {
		wanted[m] = true
	}
	members := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading tar: %w", source, err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		folder, base := path.Split(name)
		if folder != cifarFolder+"/" || !wanted[base] {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s: member %s is not a regular file (type %q)", source, hdr.Name, hdr.Typeflag)
		}
		if _, dup := members[base]; dup {
			return nil, fmt.Errorf("%s: member %s appears twice", source, hdr.Name)
		}
		if hdr.Size > cifarMaxMember {
			return nil, fmt.Errorf("%s: member %s claims %d bytes, more than the %d a CIFAR-10 batch file can plausibly have",
				source, hdr.Name, hdr.Size, cifarMaxMember)
		}
		b, err := readExactly(tr, hdr.Size, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: member %s: %w", source, hdr.Name, err)
		}
		members[base] = b
	}
	if gz {
		// Reading the gzip stream to its end verifies its CRC and length.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, fmt.Errorf("%s: after the tar end: %w", source, err)
		}
	}
	return members, nil
}

// assembleCIFAR checks the members and builds the two splits; training
// records are data_batch_1 … data_batch_5 in that order, as the official
// loaders concatenate them.
func assembleCIFAR(info Info, source string, members map[string][]byte) (*Dataset, error) {
	for _, name := range cifarMembers() {
		if _, ok := members[name]; !ok {
			return nil, fmt.Errorf("%s: missing member %s/%s", source, cifarFolder, name)
		}
	}
	if err := checkCIFARMeta(info, members[cifarMeta]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", source, cifarMeta, err)
	}
	ds := &Dataset{Info: info, Source: source}
	var err error
	if ds.Train, err = cifarSplit(info, source, cifarTrain, members); err != nil {
		return nil, err
	}
	if ds.Test, err = cifarSplit(info, source, []string{cifarTest}, members); err != nil {
		return nil, err
	}
	return ds, nil
}

func cifarSplit(info Info, source string, files []string, members map[string][]byte) (Split, error) {
	n := 0
	for _, name := range files {
		k, err := countCIFARRecords(members[name])
		if err != nil {
			return Split{}, fmt.Errorf("%s: %s: %w", source, name, err)
		}
		n += k
	}
	s := Split{Images: make([]uint8, n*cifarPixels), Labels: make([]uint8, n), N: n, C: 3, H: 32, W: 32}
	at := 0
	for _, name := range files {
		k, err := decodeCIFARRecords(members[name], s.Images[at*cifarPixels:], s.Labels[at:], info.NumClasses())
		if err != nil {
			return Split{}, fmt.Errorf("%s: %s: %w", source, name, err)
		}
		at += k
	}
	return s, nil
}

func countCIFARRecords(raw []byte) (int, error) {
	if len(raw) == 0 {
		return 0, errors.New("no records")
	}
	if len(raw)%cifarRecord != 0 {
		return 0, fmt.Errorf("size %d is not a multiple of the %d-byte record (1 label byte + 3×32×32 pixels): %d whole records and %d bytes left over",
			len(raw), cifarRecord, len(raw)/cifarRecord, len(raw)%cifarRecord)
	}
	return len(raw) / cifarRecord, nil
}

// decodeCIFARRecords splits records into pixels and labels (which must have
// room) and returns the record count.
func decodeCIFARRecords(raw []byte, images, labels []uint8, classes int) (int, error) {
	n, err := countCIFARRecords(raw)
	if err != nil {
		return 0, err
	}
	if len(images) < n*cifarPixels || len(labels) < n {
		return 0, fmt.Errorf("internal: room for %d records, have %d", len(labels), n)
	}
	for i := range n {
		rec := raw[i*cifarRecord : (i+1)*cifarRecord]
		if int(rec[0]) >= classes {
			return 0, fmt.Errorf("record %d (byte offset %d) has label %d, want 0 to %d", i, i*cifarRecord, rec[0], classes-1)
		}
		labels[i] = rec[0]
		copy(images[i*cifarPixels:(i+1)*cifarPixels], rec[1:])
	}
	return n, nil
}

// checkCIFARMeta compares the class names file with the known names. The
// official file pads lines and ends with blank lines, so both are ignored.
func checkCIFARMeta(info Info, raw []byte) error {
	var names []string
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if s := strings.TrimSpace(string(line)); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != len(info.Classes) {
		return fmt.Errorf("%d class names, want %d", len(names), len(info.Classes))
	}
	for i, want := range info.Classes {
		if names[i] != want {
			return fmt.Errorf("class %d is %q, want %q", i, names[i], want)
		}
	}
	return nil
}
