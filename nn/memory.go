package nn

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// MemoryEstimate is the memory a network will hold once built, by part, in
// bytes. It is computed from the planned layers without allocating them.
type MemoryEstimate struct {
	Params      float64 // parameter values and their gradients
	Optimizer   float64 // Adam's two moments per parameter (when Options.Optimizer)
	Activations float64 // the input batch, every layer's output and the two gradient buffers, for the max batch
	Workspace   float64 // per-shard scratch: NNMF workspaces, gradient partials, worker stacks
}

// Total is the sum of the parts, in bytes (float64: an absurd config may
// need more than an int64 can count).
func (m MemoryEstimate) Total() float64 {
	return m.Params + m.Optimizer + m.Activations + m.Workspace
}

// EstimateMemory plans the network Build would make for cfg, input shape in,
// batches up to maxBatch and opt, and returns its memory estimate without
// allocating any of it. It fails where Build would fail for a reason other
// than the memory budget.
func EstimateMemory(cfg *Config, in Shape, maxBatch int, opt Options) (MemoryEstimate, error) {
	net, _, err := plan(cfg, in, maxBatch, opt, 0)
	if err != nil {
		return MemoryEstimate{}, err
	}
	return net.estimate(), nil
}

// CheckMemory plans the network Build would make and applies Build's memory
// check (see Options.MaxMemory) without allocating it: a caller can refuse
// a run before it loads its data.
func CheckMemory(cfg *Config, in Shape, maxBatch int, opt Options) error {
	net, _, err := plan(cfg, in, maxBatch, opt, 0)
	if err != nil {
		return err
	}
	return checkBudget(net.estimate(), maxBatch, net.opt)
}

// goroutineStack is what each worker goroutine of the pool costs at least.
const goroutineStack = 8 << 10

// estimate mirrors allocate (and materialise, and each layer's allocate):
// every buffer that grows with the config, the batch or the thread count.
func (n *Network) estimate() MemoryEstimate {
	var m MemoryEstimate
	const f32, f64 = 4, 8
	shards := float64(max(n.opt.Threads, 1))
	batch := float64(n.maxBatch)
	for _, p := range n.params {
		v := float64(p.size())
		m.Params += 2 * f32 * v
		if n.opt.Optimizer {
			m.Optimizer += 2 * f32 * v
		}
	}
	// The caller's input batch (Build does not make it, its user does).
	m.Activations += f32 * batch * float64(n.in.size())
	maxGrad := 0.0
	for _, l := range n.layers {
		b := l.base()
		in, out := float64(b.in.size()), float64(b.out.size())
		m.Workspace += 16 * shards // shardErrs
		if !b.identity {
			m.Activations += f32 * batch * out
		}
		maxGrad = max(maxGrad, batch*in, batch*out)
		// Gradient partials are the parameter's own gradient with one shard.
		partials := 0.0
		if shards > 1 {
			partials = shards
		}
		switch l := l.(type) {
		case *convLayer:
			nw := float64(l.out.C) * float64(l.in.C)
			if l.positive {
				m.Workspace += 2 * f32 * nw
			}
			m.Workspace += partials * f32 * nw
			if l.bias != nil {
				m.Workspace += shards * f64 * float64(l.out.C)
			}
		case *batchNormLayer:
			c := float64(l.in.C)
			m.Workspace += 4*f32*c + 2*f64*c + shards*2*f64*c
			if l.running {
				m.Workspace += 2 * f32 * c
			}
		case *nnmfLayer:
			nw := float64(l.out.C) * float64(l.in.C)
			m.Workspace += 2*f32*nw + partials*f32*nw
			rows := n.maxBatch * b.in.H * b.in.W
			perShard := (rows + int(shards) - 1) / int(shards)
			m.Workspace += shards * l.core.WorkspaceBytes(perShard)
		case *poolLayer:
			if l.maxPool {
				m.Workspace += 4 * batch * out
			}
		}
	}
	m.Activations += 2 * f32 * maxGrad
	m.Workspace += (shards - 1) * goroutineStack
	return m
}

// MemoryLimitError is returned by Build when the estimated memory of the
// network exceeds the budget.
type MemoryLimitError struct {
	Estimate MemoryEstimate
	MaxBatch int
	Threads  int
	Limit    int64
	Default  bool // Limit is DefaultMaxMemory, not one the caller set
}

func (e *MemoryLimitError) Error() string {
	how := ""
	if e.Default {
		how = " (the default: half of the machine's RAM)"
	}
	m := e.Estimate
	return fmt.Sprintf("the network needs an estimated %s (parameters and gradients %s, optimiser state %s, activations %s, per-thread workspace %s) for batch %d × %d threads, over the memory limit of %s%s; lower the batch size or the threads, shrink the network, or raise the limit",
		FormatBytes(m.Total()), FormatBytes(m.Params), FormatBytes(m.Optimizer), FormatBytes(m.Activations), FormatBytes(m.Workspace),
		e.MaxBatch, e.Threads, FormatBytes(float64(e.Limit)), how)
}

// checkBudget refuses an estimate over opt.MaxMemory (0: DefaultMaxMemory,
// negative: no limit).
func checkBudget(m MemoryEstimate, maxBatch int, opt Options) error {
	limit, def := opt.MaxMemory, false
	switch {
	case limit < 0:
		return nil
	case limit == 0:
		limit, def = DefaultMaxMemory(), true
	}
	if m.Total() > float64(limit) {
		return &MemoryLimitError{Estimate: m, MaxBatch: maxBatch, Threads: max(opt.Threads, 1), Limit: limit, Default: def}
	}
	return nil
}

// fallbackMaxMemory is the default budget where the machine's RAM is unknown.
const fallbackMaxMemory = 4 << 30

// DefaultMaxMemory is the memory budget Build uses when Options.MaxMemory is
// 0: half of MemTotal in /proc/meminfo on Linux, 4 GiB where that cannot be
// read. Half leaves room for the dataset, the page cache and other programs.
func DefaultMaxMemory() int64 {
	if total, err := memTotal("/proc/meminfo"); err == nil {
		return total / 2
	}
	return fallbackMaxMemory
}

// memTotal reads the MemTotal line ("MemTotal:  24519312 kB") of a meminfo file.
func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
				return 0, fmt.Errorf("%s: bad MemTotal %q", path, fields[1])
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no MemTotal line", path)
}

// FormatBytes prints a byte count with a binary unit (KiB, MiB, GiB, TiB).
func FormatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u := 0
	for b >= 1024 && u < len(units)-1 {
		b /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[u])
}

// ByteSize is a memory size given on a command line: an integer or decimal
// number of bytes with an optional unit, K/KiB, M/MiB, G/GiB, T/TiB (powers
// of 1024) or KB, MB, GB, TB (powers of 1000), e.g. "2GiB", "500MiB",
// "1.5G". It implements the pflag.Value interface.
type ByteSize int64

// ParseByteSize parses a ByteSize (see there); negative sizes are refused.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("memory size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)", s, strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("memory size %q: not a number followed by a unit such as GiB", s)
	}
	if v < 0 {
		return 0, errors.New("memory size " + strconv.Quote(s) + " is negative")
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("memory size %q is too large", s)
	}
	return ByteSize(b), nil
}

// Set parses s into the size (pflag.Value).
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String prints the size in bytes, or "0" (pflag.Value).
func (b *ByteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Type names the flag's value kind in help texts (pflag.Value).
func (b *ByteSize) Type() string { return "size" }
