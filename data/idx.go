package data

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// IDX files (the MNIST format): two zero bytes, a type code, the number of
// dimensions, the dimensions as big-endian uint32, then the data row-major.
const (
	idxTypeUint8 = 0x08
	idxMaxDims   = 4
	idxMaxBytes  = 1 << 32 // far above any real file; rejects absurd headers
)

// readIDX reads one IDX array of unsigned bytes from r. name is only used in
// error messages.
func readIDX(r io.Reader, name string, hint int64) (dims []int, values []byte, err error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: reading IDX magic: %w", name, noEOF(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, nil, fmt.Errorf("%s: bad IDX magic % x: want 00 00 <type> <ndim>", name, head)
	}
	if head[2] != idxTypeUint8 {
		return nil, nil, fmt.Errorf("%s: IDX type 0x%02x, want 0x08 (unsigned byte)", name, head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > idxMaxDims {
		return nil, nil, fmt.Errorf("%s: IDX has %d dimensions, want 1 to %d", name, nd, idxMaxDims)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("%s: reading IDX dimensions: %w", name, noEOF(err))
	}
	dims = make([]int, nd)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
	}
	total := int64(1)
	for _, d := range dims {
		if d > 0 && total > idxMaxBytes/int64(d) {
			return nil, nil, fmt.Errorf("%s: IDX dimensions %v claim more than %d bytes", name, dims, int64(idxMaxBytes))
		}
		total *= int64(d)
	}
	values, err = readExactly(r, total, hint-int64(4+4*nd))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: IDX data for dimensions %v: %w", name, dims, err)
	}
	if err := expectEOF(r); err != nil {
		return nil, nil, fmt.Errorf("%s: after %d data bytes of dimensions %v: %w", name, total, dims, err)
	}
	return dims, values, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readIDXFile reads a plain or gzip'd IDX file.
func readIDXFile(path string) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, gz, err := maybeGunzip(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	hint := fileSize(f)
	if gz {
		hint = 0
	}
	return readIDX(r, path, hint)
}

var idxFiles = struct{ trainImages, trainLabels, testImages, testLabels string }{
	"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
}

// idxPath finds name.gz or name in dir.
func idxPath(dir, name string) (string, bool) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if exists(p) {
			return p, true
		}
	}
	return "", false
}

func loadIDXDataset(info Info, root string) (*Dataset, error) {
	dir := DatasetDir(root, info.Name)
	names := []string{idxFiles.trainImages, idxFiles.trainLabels, idxFiles.testImages, idxFiles.testLabels}
	paths := make([]string, len(names))
	var missing []string
	for i, n := range names {
		p, ok := idxPath(dir, n)
		if !ok {
			missing = append(missing, n+"[.gz]")
		}
		paths[i] = p
	}
	if len(missing) == len(names) {
		return nil, notFound(info.Name, filepath.Join(dir, "*-ubyte[.gz]"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %s: missing %s", info.Name, dir, strings.Join(missing, ", "))
	}
	ds := &Dataset{Info: info, Source: dir}
	var err error
	if ds.Train, err = loadIDXSplit(info, paths[0], paths[1]); err != nil {
		return nil, err
	}
	if ds.Test, err = loadIDXSplit(info, paths[2], paths[3]); err != nil {
		return nil, err
	}
	return ds, nil
}

func loadIDXSplit(info Info, imagesPath, labelsPath string) (Split, error) {
	idims, images, err := readIDXFile(imagesPath)
	if err != nil {
		return Split{}, err
	}
	ldims, labels, err := readIDXFile(labelsPath)
	if err != nil {
		return Split{}, err
	}
	return idxSplit(info, imagesPath, idims, images, labelsPath, ldims, labels)
}

// idxSplit checks that an image array and a label array form one split of
// the dataset.
func idxSplit(info Info, imagesName string, idims []int, images []byte, labelsName string, ldims []int, labels []byte) (Split, error) {
	if len(idims) != 3 || idims[1] != info.Size || idims[2] != info.Size {
		return Split{}, fmt.Errorf("%s: image dimensions %v, want [N %d %d]", imagesName, idims, info.Size, info.Size)
	}
	if len(ldims) != 1 {
		return Split{}, fmt.Errorf("%s: label dimensions %v, want [N]", labelsName, ldims)
	}
	if idims[0] != ldims[0] {
		return Split{}, fmt.Errorf("%s has %d images but %s has %d labels", imagesName, idims[0], labelsName, ldims[0])
	}
	if idims[0] == 0 {
		return Split{}, fmt.Errorf("%s: no images", imagesName)
	}
	if err := checkLabels(labels, info.NumClasses(), func(i int) string {
		return fmt.Sprintf("%s: label %d", labelsName, i)
	}); err != nil {
		return Split{}, err
	}
	return Split{Images: images, Labels: labels, N: idims[0], C: 1, H: info.Size, W: info.Size}, nil
}

func checkLabels(labels []byte, classes int, where func(i int) string) error {
	for i, l := range labels {
		if int(l) >= classes {
			return fmt.Errorf("%s is %d, want 0 to %d", where(i), l, classes-1)
		}
	}
	return nil
}
