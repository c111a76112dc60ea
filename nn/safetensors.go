package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// NamedTensor is one float32 tensor of a safetensors file.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// maxHeaderLen bounds the JSON header, as the reference implementation does,
// so a corrupt length cannot make us allocate gigabytes.
const maxHeaderLen = 100 << 20

type stEntry struct {
	Dtype   string  `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// WriteSafetensors writes float32 tensors (dtype F32, little-endian) and string
// metadata to path atomically (temporary file + rename).
func WriteSafetensors(path string, tensors []NamedTensor, metadata map[string]string) error {
	sorted := append([]NamedTensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range sorted {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors %s: invalid tensor name %q", path, t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("safetensors %s: tensor %q given twice", path, t.Name)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors %s: tensor %q: negative dimension in shape %v", path, t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("safetensors %s: tensor %q: shape %v holds %d values, data has %d", path, t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		size := int64(4 * n)
		header[t.Name] = stEntry{Dtype: "F32", Shape: shape, Offsets: []int64{off, off + size}}
		off += size
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	// Pad the header with spaces to a multiple of 8 so the data is aligned,
	// as the reference writer does.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	buf := make([]byte, 8+len(hj)+int(off))
	binary.LittleEndian.PutUint64(buf, uint64(len(hj)))
	copy(buf[8:], hj)
	p := 8 + len(hj)
	for _, t := range sorted {
		for _, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[p:], math.Float32bits(v))
			p += 4
		}
	}
	return atomicfile.WriteFile(path, buf)
}

// ReadSafetensors reads a safetensors file whose tensors are all float32. It
// checks the header length, the JSON, every dtype, shape and offset, and that
// the tensors tile the data section exactly; errors name the file and key.
func ReadSafetensors(path string) (map[string]NamedTensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.IsDir() {
		return nil, nil, fmt.Errorf("safetensors %s: is a directory, not a weights file", path)
	}
	return readSafetensors(path, f, st.Size())
}

// readSafetensors decodes a safetensors stream of size bytes; path names it
// in errors. Nothing it allocates exceeds size (plus the parsed header).
func readSafetensors(path string, f io.Reader, size int64) (map[string]NamedTensor, map[string]string, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: file shorter than the 8-byte header length", path)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeaderLen || int64(hlen) > size-8 {
		return nil, nil, fmt.Errorf("safetensors %s: header length %d does not fit the %d-byte file", path, hlen, size)
	}
	hj := make([]byte, hlen)
	if _, err := io.ReadFull(f, hj); err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: reading header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hj))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: header is not a JSON object: %w", path, err)
	}
	if rest := strings.TrimSpace(string(hj[dec.InputOffset():])); rest != "" {
		return nil, nil, fmt.Errorf("safetensors %s: trailing bytes after the header JSON", path)
	}
	dataLen := size - 8 - int64(hlen)
	data := make([]byte, dataLen)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: reading data: %w", path, err)
	}
	var meta map[string]string
	type span struct {
		lo, hi int64
		name   string
		shape  []int
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("safetensors %s: __metadata__ must map strings to strings: %w", path, err)
			}
			continue
		}
		var e stEntry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: bad header entry: %w", path, name, err)
		}
		if e.Dtype != "F32" {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q has dtype %q; only F32 is supported", path, name, e.Dtype)
		}
		if len(e.Offsets) != 2 {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: data_offsets must have 2 entries, got %d", path, name, len(e.Offsets))
		}
		n, err := elementCount(e.Shape, dataLen/4)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w (the data section holds %d bytes)", path, name, err, dataLen)
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi < lo || hi > dataLen {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: data_offsets [%d, %d] outside the %d-byte data section", path, name, lo, hi, dataLen)
		}
		if hi-lo != 4*n {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: data_offsets span %d bytes, shape %v of F32 needs %d", path, name, hi-lo, e.Shape, 4*n)
		}
		spans = append(spans, span{lo, hi, name, e.Shape})
	}
	// The tensors must tile the data section without gaps or overlaps. This
	// is checked before any value is copied: overlapping entries could
	// otherwise each claim the whole section and multiply the memory used.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].lo != spans[j].lo {
			return spans[i].lo < spans[j].lo
		}
		return spans[i].name < spans[j].name
	})
	var pos int64
	for _, s := range spans {
		if s.lo != pos {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q starts at byte %d, expected %d (gap or overlap in the data section)", path, s.name, s.lo, pos)
		}
		pos = s.hi
	}
	if pos != dataLen {
		return nil, nil, fmt.Errorf("safetensors %s: %d trailing bytes after the last tensor", path, dataLen-pos)
	}
	out := make(map[string]NamedTensor, len(spans))
	for _, s := range spans {
		vals := make([]float32, (s.hi-s.lo)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[s.lo+4*int64(i):]))
		}
		out[s.name] = NamedTensor{Name: s.name, Shape: s.shape, Data: vals}
	}
	return out, meta, nil
}

// elementCount is the product of shape, computed so that it cannot overflow:
// every partial product is checked against limit (the number of F32 values
// the data section can hold) by division before it is formed.
func elementCount(shape []int, limit int64) (int64, error) {
	n := int64(1)
	for _, dim := range shape {
		if dim < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if dim == 0 {
			n = 0
			continue
		}
		if n > limit/int64(dim) {
			return 0, fmt.Errorf("shape %v needs more F32 values than the %d that fit the data section", shape, limit)
		}
		n *= int64(dim)
	}
	return n, nil
}

// checkFinite fails on the first NaN or infinity of a tensor read from path:
// such a weight poisons every later forward pass, and the user must learn
// which file and which tensor carry it, not just that a loss became NaN.
func checkFinite(path, name string, data []float32) error {
	for i, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: tensor %q: value %d is %v (weights must be finite)", path, name, i, v)
		}
	}
	return nil
}

// CheckFinite fails when a tensor of the map (as ReadSafetensors returns it)
// holds a NaN or an infinity; the error names path and the tensor key. Keys
// are checked in sorted order so the error is the same on every run.
func CheckFinite(path string, tensors map[string]NamedTensor) error {
	keys := make([]string, 0, len(tensors))
	for k := range tensors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkFinite(path, k, tensors[k].Data); err != nil {
			return err
		}
	}
	return nil
}

// stateTensors lists what SaveWeights writes: every parameter, plus the
// BatchNorm running statistics when the network keeps them.
func (n *Network) stateTensors() []NamedTensor {
	var ts []NamedTensor
	for _, p := range n.params {
		ts = append(ts, NamedTensor{Name: p.Key, Shape: p.Shape, Data: p.Data})
	}
	for _, l := range n.layers {
		if bn, ok := l.(*batchNormLayer); ok && bn.running {
			i := bn.info.Index
			ts = append(ts,
				NamedTensor{Name: fmt.Sprintf("%d.running_mean", i), Shape: []int{bn.in.C}, Data: bn.runMean},
				NamedTensor{Name: fmt.Sprintf("%d.running_var", i), Shape: []int{bn.in.C}, Data: bn.runVar})
		}
	}
	return ts
}

// MetaConfig is the safetensors metadata key under which SaveWeights stores
// the network config (official JSON format), so that a weights file is
// self-describing; PyTorch's loaders ignore it.
const MetaConfig = "network_config"

// SaveWeights writes the parameters under their official state_dict keys and
// shapes (plus BatchNorm running statistics when enabled), atomically. The
// metadata gets "format": "pt" (what PyTorch's safetensors writer records)
// and the network config under MetaConfig unless the caller sets them.
func (n *Network) SaveWeights(path string, metadata map[string]string) error {
	meta := map[string]string{"format": "pt"}
	if cfg, err := n.cfg.MarshalJSON(); err == nil {
		meta[MetaConfig] = string(cfg)
	}
	for k, v := range metadata {
		meta[k] = v
	}
	return WriteSafetensors(path, n.stateTensors(), meta)
}

// ConfigFromWeights returns the network config that SaveWeights stored in a
// weights file's metadata.
func ConfigFromWeights(path string) (*Config, error) {
	_, meta, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	raw, ok := meta[MetaConfig]
	if !ok {
		return nil, fmt.Errorf("weights %s carry no network config (metadata key %q); give the config file", path, MetaConfig)
	}
	return ParseConfig([]byte(raw), path+" metadata "+MetaConfig)
}

// LoadWeights reads parameters written by SaveWeights or by PyTorch
// (safetensors of the official state_dict). Every key must be present with its
// official shape and no other key may appear; nothing changes on error.
func (n *Network) LoadWeights(path string) error {
	tensors, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	if err := CheckFinite(path, tensors); err != nil {
		return fmt.Errorf("weights %w", err)
	}
	want := n.stateTensors()
	var errs []error
	found := make([][]float32, len(want))
	for i, w := range want {
		t, ok := tensors[w.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("key %q (shape %v) is missing", w.Name, w.Shape))
			continue
		}
		if !slices.Equal(t.Shape, w.Shape) {
			errs = append(errs, fmt.Errorf("key %q has shape %v, the network needs %v", w.Name, t.Shape, w.Shape))
		}
		found[i] = t.Data
		delete(tensors, w.Name)
	}
	extra := make([]string, 0, len(tensors))
	for k := range tensors {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		errs = append(errs, fmt.Errorf("unexpected key %q (not a parameter of this network)", k))
	}
	if len(errs) > 0 {
		return fmt.Errorf("weights %s do not fit the network: %w", path, errors.Join(errs...))
	}
	for i, w := range want {
		copy(w.Data, found[i])
	}
	return nil
}
