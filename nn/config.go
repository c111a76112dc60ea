package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// Config is the official JSON network config (spec §2.1). Field names mirror
// the JSON keys; the per-block lists all have one entry per block.
type Config struct {
	Iterations int
	// Epsilon enables the epsilon form of the NNMF update (spec §1.3). It is
	// nil when the JSON value is not a float token ("None", an integer, ...),
	// exactly as the official isinstance(v, float) test (spec §6 item 13).
	Epsilon *float64

	NumberOfNeuronsA []int
	NumberOfNeuronsB []int

	KernelSizeConv [][]int
	StrideConv     [][]int
	PaddingConv    [][]int
	DilationConv   [][]int

	KernelSizePool [][]int
	StridePool     [][]int
	PaddingPool    [][]int
	DilationPool   [][]int
	TypeOfPooling  []int

	LocalLearning             []bool
	LocalLearningKL           []bool
	LocalLearningPooling      []bool
	LocalLearningUseKLPooling []bool

	TypeOfNeuronA    []int
	TypeOfNeuronB    []int
	BatchNormNeuronA []bool
	BatchNormNeuronB []bool
	BiasNormNeuronA  []bool
	BiasNormNeuronB  []bool

	// IterationsPooling is T of the NNMF pooling layers (type 4). The official
	// code always uses 20 (spec §6 item 4); 0 here means 20.
	IterationsPooling int
}

// Blocks is the number of blocks N.
func (c *Config) Blocks() int { return len(c.NumberOfNeuronsA) }

// configJSON is the wire form. Integer-pair lists are read as [][]int so that a
// wrong inner length is an error instead of being silently padded or cut.
type configJSON struct {
	Iterations                *int            `json:"iterations"`
	Epsilon                   json.RawMessage `json:"epsilon"`
	NumberOfNeuronsA          []int           `json:"number_of_neurons_a"`
	NumberOfNeuronsB          []int           `json:"number_of_neurons_b"`
	KernelSizeConv            [][]int         `json:"kernel_size_conv"`
	StrideConv                [][]int         `json:"stride_conv"`
	PaddingConv               [][]int         `json:"padding_conv"`
	DilationConv              [][]int         `json:"dilation_conv"`
	KernelSizePool            [][]int         `json:"kernel_size_pool"`
	StridePool                [][]int         `json:"stride_pool"`
	PaddingPool               [][]int         `json:"padding_pool"`
	DilationPool              [][]int         `json:"dilation_pool"`
	TypeOfPooling             []int           `json:"type_of_pooling"`
	LocalLearning             []bool          `json:"local_learning"`
	LocalLearningKL           []bool          `json:"local_learning_kl"`
	LocalLearningPooling      []bool          `json:"local_learning_pooling"`
	LocalLearningUseKLPooling []bool          `json:"local_learning_use_kl_pooling"`
	TypeOfNeuronA             []int           `json:"type_of_neuron_a"`
	TypeOfNeuronB             []int           `json:"type_of_neuron_b"`
	BatchNormNeuronA          []bool          `json:"batch_norm_neuron_a"`
	BatchNormNeuronB          []bool          `json:"batch_norm_neuron_b"`
	BiasNormNeuronA           []bool          `json:"bias_norm_neuron_a"`
	BiasNormNeuronB           []bool          `json:"bias_norm_neuron_b"`
	IterationsPooling         *int            `json:"iterations_pooling,omitempty"`
}

// LoadConfig reads and validates an official network config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses an official network config (JSON with // and /* */
// comments, as the official code's jsmin pass allows) and validates it. name
// identifies the source in error messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	stripped, errOff, err := stripComments(data)
	if err != nil {
		return nil, fmt.Errorf("network config %s: %w", lineCol(name, data, errOff), err)
	}
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.DisallowUnknownFields()
	var w configJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("network config %s: %w", jsonErrorPos(name, data, stripped, err), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("network config %s: trailing data after the JSON object", lineCol(name, data, int(dec.InputOffset())))
	}
	c := &Config{
		NumberOfNeuronsA: w.NumberOfNeuronsA, NumberOfNeuronsB: w.NumberOfNeuronsB,
		KernelSizeConv: w.KernelSizeConv, StrideConv: w.StrideConv, PaddingConv: w.PaddingConv, DilationConv: w.DilationConv,
		KernelSizePool: w.KernelSizePool, StridePool: w.StridePool, PaddingPool: w.PaddingPool, DilationPool: w.DilationPool,
		TypeOfPooling: w.TypeOfPooling,
		LocalLearning: w.LocalLearning, LocalLearningKL: w.LocalLearningKL,
		LocalLearningPooling: w.LocalLearningPooling, LocalLearningUseKLPooling: w.LocalLearningUseKLPooling,
		TypeOfNeuronA: w.TypeOfNeuronA, TypeOfNeuronB: w.TypeOfNeuronB,
		BatchNormNeuronA: w.BatchNormNeuronA, BatchNormNeuronB: w.BatchNormNeuronB,
		BiasNormNeuronA: w.BiasNormNeuronA, BiasNormNeuronB: w.BiasNormNeuronB,
	}
	if w.Iterations == nil {
		return nil, fmt.Errorf("network config %s: field \"iterations\" is missing", name)
	}
	c.Iterations = *w.Iterations
	if w.IterationsPooling != nil {
		c.IterationsPooling = *w.IterationsPooling
		if c.IterationsPooling < 1 {
			return nil, fmt.Errorf("network config %s: field \"iterations_pooling\" must be ≥ 1, got %d", name, c.IterationsPooling)
		}
	}
	eps, err := parseEpsilon(w.Epsilon)
	if err != nil {
		return nil, fmt.Errorf("network config %s: field \"epsilon\": %w", name, err)
	}
	c.Epsilon = eps
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("network config %s: %w", name, err)
	}
	return c, nil
}

// parseEpsilon applies the official rule: only a JSON float token (one with a
// '.', 'e' or 'E') enables the epsilon form; "None", other strings, integers
// and null leave it off (spec §6 item 13).
func parseEpsilon(raw json.RawMessage) (*float64, error) {
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return nil, errors.New("missing (use \"None\" or a float such as 0.1)")
	}
	switch tok[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return nil, nil
	case 'n': // null
		return nil, nil
	case '[', '{', 't', 'f':
		return nil, fmt.Errorf("must be \"None\" or a number, got %s", tok)
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return nil, fmt.Errorf("not a number: %s", tok)
	}
	if !strings.ContainsAny(tok, ".eE") {
		return nil, nil // an integer token is not a Python float
	}
	return &v, nil
}

// Validate checks list lengths, value ranges and the rules of spec §6 items 5,
// 27 and 29 that do not need the input size (Build checks the rest).
func (c *Config) Validate() error {
	n := len(c.NumberOfNeuronsA)
	if n == 0 {
		return errors.New("field \"number_of_neurons_a\" is missing or empty")
	}
	if c.Iterations < 1 {
		return fmt.Errorf("field \"iterations\" must be ≥ 1, got %d", c.Iterations)
	}
	lens := []struct {
		field string
		l     int
	}{
		{"number_of_neurons_b", len(c.NumberOfNeuronsB)},
		{"kernel_size_conv", len(c.KernelSizeConv)},
		{"stride_conv", len(c.StrideConv)},
		{"padding_conv", len(c.PaddingConv)},
		{"dilation_conv", len(c.DilationConv)},
		{"kernel_size_pool", len(c.KernelSizePool)},
		{"stride_pool", len(c.StridePool)},
		{"padding_pool", len(c.PaddingPool)},
		{"dilation_pool", len(c.DilationPool)},
		{"type_of_pooling", len(c.TypeOfPooling)},
		{"local_learning", len(c.LocalLearning)},
		{"local_learning_kl", len(c.LocalLearningKL)},
		{"local_learning_pooling", len(c.LocalLearningPooling)},
		{"local_learning_use_kl_pooling", len(c.LocalLearningUseKLPooling)},
		{"type_of_neuron_a", len(c.TypeOfNeuronA)},
		{"type_of_neuron_b", len(c.TypeOfNeuronB)},
		{"batch_norm_neuron_a", len(c.BatchNormNeuronA)},
		{"batch_norm_neuron_b", len(c.BatchNormNeuronB)},
		{"bias_norm_neuron_a", len(c.BiasNormNeuronA)},
		{"bias_norm_neuron_b", len(c.BiasNormNeuronB)},
	}
	for _, f := range lens {
		if f.l != n {
			return fmt.Errorf("field %q has %d entries, want %d (one per block, as number_of_neurons_a)", f.field, f.l, n)
		}
	}
	pairs := []struct {
		field string
		v     [][]int
		min   int
	}{
		{"kernel_size_conv", c.KernelSizeConv, -1 << 31},
		{"stride_conv", c.StrideConv, 1},
		{"padding_conv", c.PaddingConv, 0},
		{"dilation_conv", c.DilationConv, 1},
		{"kernel_size_pool", c.KernelSizePool, -1 << 31},
	}
	for _, p := range pairs {
		for i, e := range p.v {
			if len(e) != 2 {
				return fmt.Errorf("field %q block %d: want 2 entries, got %d", p.field, i, len(e))
			}
			if e[0] < p.min || e[1] < p.min {
				return fmt.Errorf("field %q block %d: entries must be ≥ %d, got %v", p.field, i, p.min, e)
			}
		}
	}
	for i := 0; i < n; i++ {
		if c.NumberOfNeuronsA[i] <= 0 && c.NumberOfNeuronsB[i] <= 0 {
			return fmt.Errorf("block %d: number_of_neurons_a and number_of_neurons_b are both ≤ 0", i)
		}
		na, nb := c.neurons(i)
		switch c.TypeOfNeuronA[i] {
		case 1, 2:
		default:
			return fmt.Errorf("field \"type_of_neuron_a\" block %d: %d is not 1 (NNMF) or 2 (conv)", i, c.TypeOfNeuronA[i])
		}
		switch c.TypeOfNeuronB[i] {
		case 0, 1:
		case 2, 3:
			if nb > na {
				return fmt.Errorf("block %d: a conv neuron b (type %d) needs number_of_neurons_b ≤ number_of_neurons_a for its identity init, got %d > %d (spec §6 item 5)", i, c.TypeOfNeuronB[i], nb, na)
			}
		default:
			return fmt.Errorf("field \"type_of_neuron_b\" block %d: %d is not 0 (none), 1 (NNMF), 2 (conv) or 3 (positive conv)", i, c.TypeOfNeuronB[i])
		}
		if c.poolActive(i) {
			if t := c.TypeOfPooling[i]; t < 0 || t > 4 {
				return fmt.Errorf("field \"type_of_pooling\" block %d: %d is not 0-4 (spec §6 item 27)", i, t)
			}
			for _, p := range []struct {
				field string
				v     [][]int
				min   int
			}{{"stride_pool", c.StridePool, 1}, {"padding_pool", c.PaddingPool, 0}, {"dilation_pool", c.DilationPool, 1}} {
				e := p.v[i]
				if len(e) != 2 {
					return fmt.Errorf("field %q block %d: want 2 entries, got %d", p.field, i, len(e))
				}
				if e[0] < p.min || e[1] < p.min {
					return fmt.Errorf("field %q block %d: entries must be ≥ %d when pooling is built, got %v", p.field, i, p.min, e)
				}
			}
			k, pad := c.KernelSizePool[i], c.PaddingPool[i]
			if t := c.TypeOfPooling[i]; (t == 1 || t == 2) && (2*pad[0] > k[0] || 2*pad[1] > k[1]) {
				return fmt.Errorf("block %d: padding_pool %v must be at most half of kernel_size_pool %v", i, pad, k)
			}
		} else {
			for _, p := range []struct {
				field string
				v     [][]int
			}{{"stride_pool", c.StridePool}, {"padding_pool", c.PaddingPool}, {"dilation_pool", c.DilationPool}} {
				if len(p.v[i]) != 2 {
					return fmt.Errorf("field %q block %d: want 2 entries, got %d", p.field, i, len(p.v[i]))
				}
			}
		}
	}
	return nil
}

// neurons resolves the ≤0 convention of number_of_neurons_a/b.
func (c *Config) neurons(i int) (na, nb int) {
	na, nb = c.NumberOfNeuronsA[i], c.NumberOfNeuronsB[i]
	if na <= 0 {
		na = nb
	}
	if nb <= 0 {
		nb = na
	}
	return na, nb
}

func (c *Config) poolActive(i int) bool {
	k := c.KernelSizePool[i]
	return k[0] > 0 && k[1] > 0
}

func (c *Config) poolingIterations() int {
	if c.IterationsPooling > 0 {
		return c.IterationsPooling
	}
	return 20
}

// MarshalJSON writes the official format (epsilon as "None" or a float token).
func (c *Config) MarshalJSON() ([]byte, error) {
	w := configJSON{
		Iterations:       &c.Iterations,
		NumberOfNeuronsA: c.NumberOfNeuronsA, NumberOfNeuronsB: c.NumberOfNeuronsB,
		KernelSizeConv: c.KernelSizeConv, StrideConv: c.StrideConv, PaddingConv: c.PaddingConv, DilationConv: c.DilationConv,
		KernelSizePool: c.KernelSizePool, StridePool: c.StridePool, PaddingPool: c.PaddingPool, DilationPool: c.DilationPool,
		TypeOfPooling: c.TypeOfPooling,
		LocalLearning: c.LocalLearning, LocalLearningKL: c.LocalLearningKL,
		LocalLearningPooling: c.LocalLearningPooling, LocalLearningUseKLPooling: c.LocalLearningUseKLPooling,
		TypeOfNeuronA: c.TypeOfNeuronA, TypeOfNeuronB: c.TypeOfNeuronB,
		BatchNormNeuronA: c.BatchNormNeuronA, BatchNormNeuronB: c.BatchNormNeuronB,
		BiasNormNeuronA: c.BiasNormNeuronA, BiasNormNeuronB: c.BiasNormNeuronB,
	}
	if c.IterationsPooling > 0 && c.IterationsPooling != 20 {
		w.IterationsPooling = &c.IterationsPooling
	}
	if c.Epsilon == nil {
		w.Epsilon = json.RawMessage(`"None"`)
	} else {
		tok := strconv.FormatFloat(*c.Epsilon, 'g', -1, 64)
		if !strings.ContainsAny(tok, ".eE") {
			tok += ".0" // keep it a float token, or the official parser would ignore it
		}
		w.Epsilon = json.RawMessage(tok)
	}
	return json.MarshalIndent(w, "", "  ")
}

// WriteConfig writes c as plain JSON in the official format, atomically.
func WriteConfig(path string, c *Config) error {
	data, err := c.MarshalJSON()
	if err != nil {
		return fmt.Errorf("network config %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
}

// stripComments removes // line comments and /* */ block comments outside
// JSON strings, as jsmin does for the official configs. Each comment byte
// becomes a space (newlines stay), so that every byte keeps its offset and
// JSON errors can be reported at the line and column of the original file.
// On error it also returns the offset of the unterminated string or comment.
func stripComments(src []byte) ([]byte, int, error) {
	out := bytes.Clone(src)
	blank := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
	}
	for i := 0; i < len(src); i++ {
		ch := src[i]
		switch {
		case ch == '"':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
					continue
				}
				if src[j] == '"' {
					break
				}
			}
			if j >= len(src) {
				return nil, i, errors.New("unterminated string")
			}
			i = j
		case ch == '/' && i+1 < len(src) && src[i+1] == '/':
			j := i
			for j < len(src) && src[j] != '\n' {
				j++
			}
			blank(i, j)
			i = j
		case ch == '/' && i+1 < len(src) && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				return nil, i, errors.New("unterminated /* comment")
			}
			blank(i, i+2+end+2)
			i += 2 + end + 1
		}
	}
	return out, 0, nil
}

// posOf gives the 1-based line and column (in characters) of byte offset
// off of src, as "line:col".
func posOf(src []byte, off int) string {
	off = min(max(off, 0), len(src))
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return fmt.Sprintf("%d:%d", line, 1+utf8.RuneCount(src[start:off]))
}

// lineCol names a position of a config as name:line:col.
func lineCol(name string, src []byte, off int) string {
	return name + ":" + posOf(src, off)
}

// jsonErrorPos locates a decoding error of the comment-stripped config in
// the original file (offsets are the same, see stripComments): a syntax
// error at its offending character, a type error inside the value, an
// unknown field at its key, a truncated file at its end.
func jsonErrorPos(name string, src, stripped []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return lineCol(name, src, int(syn.Offset)-1)
	case errors.As(err, &typ):
		return lineCol(name, src, int(typ.Offset)-1)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return lineCol(name, src, len(src))
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		if off := keyOffset(stripped, msg[len(unknown):]); off >= 0 {
			return lineCol(name, src, off)
		}
	}
	return name
}

// keyOffset finds quoted (a JSON string literal, as the decoder's message
// quotes it) used as an object key: followed by optional space and ':'.
func keyOffset(stripped []byte, quoted string) int {
	for from := 0; ; {
		i := bytes.Index(stripped[from:], []byte(quoted))
		if i < 0 {
			return -1
		}
		i += from
		rest := bytes.TrimLeft(stripped[i+len(quoted):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return i
		}
		from = i + 1
	}
}
