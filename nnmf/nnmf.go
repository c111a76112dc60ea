package nnmf

import (
	"errors"
	"fmt"

	"github.com/deepnmf/deepnmf/kernels"
)

// Method selects how the layer's gradient is computed (spec §1.7).
type Method int

const (
	Approx        Method = iota // the paper's approximate backward (spec §1.4), the official default
	Unrolled                    // exact backprop through the T stored iterates (spec §1.5)
	LastIter                    // backprop through the last iteration only (spec §1.7 item 3)
	LastIterSqrtT               // LastIter scaled by √T (spec §1.7 item 4)
	Implicit                    // implicit differentiation at the fixed point (spec §1.7 item 5)
)

var methodNames = [...]string{"approx", "unrolled", "last_iter", "last_iter_sqrt_t", "implicit"}

func (m Method) String() string {
	if m < 0 || int(m) >= len(methodNames) {
		return fmt.Sprintf("Method(%d)", int(m))
	}
	return methodNames[m]
}

// ParseMethod maps a method's name (as printed by String) to the Method.
func ParseMethod(s string) (Method, error) {
	for i, n := range methodNames {
		if n == s {
			return Method(i), nil
		}
	}
	return 0, fmt.Errorf("unknown NNMF backward method %q (want one of approx, unrolled, last_iter, last_iter_sqrt_t, implicit)", s)
}

// MarshalText writes the method's name, so that JSON files hold "approx".
func (m Method) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(methodNames) {
		return nil, fmt.Errorf("invalid NNMF backward method %d", int(m))
	}
	return []byte(methodNames[m]), nil
}

// UnmarshalText reads a name accepted by ParseMethod.
func (m *Method) UnmarshalText(b []byte) error {
	v, err := ParseMethod(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Methods lists every method in its declaration order.
func Methods() []Method { return []Method{Approx, Unrolled, LastIter, LastIterSqrtT, Implicit} }

// Config describes one NNMF layer.
type Config struct {
	Name            string  // used in error messages (e.g. "layer 4"); optional
	In, Out         int     // D (input channels) and K (output channels)
	Iterations      int     // T
	UseEpsilon      bool    // epsilon form h ← h·(1 + ε·u) instead of h ← h·u
	Epsilon         float32 // ε, used when UseEpsilon
	Method          Method  // backward method
	LocalLearning   bool    // spec §1.6: grad_W by a local rule, grad_x by §1.4, whatever Method says
	LocalLearningKL bool    // spec §1.6: KL form of the local rule
	// Precision of the forward's multiplicative updates: kernels.BF16 rounds
	// the operands of both products to bf16 (float32 accumulation) where the
	// CPU has AVX512_BF16 and runs float32 elsewhere (EffectivePrecision).
	// The backward is float32 either way.
	Precision kernels.Precision
}

// ErrNotFinite is wrapped by the errors the layer returns when an output or a
// gradient is not finite (spec §6 item 20).
var ErrNotFinite = errors.New("non-finite value")

// Layer is one NNMF layer: its configuration, validated. It holds no
// per-call state, so one Layer serves every shard; each shard brings its own
// Workspace.
type Layer struct {
	Config
	// Stop, once closed, makes Forward and Backward give up within a bounded
	// amount of work with an error wrapping ErrInterrupted (nil: never).
	Stop   <-chan struct{}
	method Method // the method in effect: Approx for local learning (spec §1.6)
}

// New validates cfg and returns the layer.
func New(cfg Config) (*Layer, error) {
	l := &Layer{Config: cfg, method: cfg.Method}
	if cfg.LocalLearning {
		// §1.6 defines both gradients of a local-learning layer (grad_x is
		// always §1.4), so a network-wide method does not apply to it.
		l.method = Approx
	}
	switch {
	case cfg.In < 1 || cfg.Out < 1:
		return nil, l.errorf("needs at least one input and one output channel, got D=%d K=%d", cfg.In, cfg.Out)
	case cfg.Iterations < 1:
		return nil, l.errorf("needs at least one iteration, got %d", cfg.Iterations)
	case cfg.Method < Approx || cfg.Method > Implicit:
		return nil, l.errorf("unknown backward method %v", cfg.Method)
	case cfg.Precision != kernels.Float32 && cfg.Precision != kernels.BF16:
		return nil, l.errorf("unknown precision %v", cfg.Precision)
	case cfg.UseEpsilon && (cfg.Epsilon != cfg.Epsilon || cfg.Epsilon > 3.4e38 || cfg.Epsilon < -3.4e38):
		return nil, l.errorf("epsilon must be finite, got %v", cfg.Epsilon)
	}
	return l, nil
}

// EffectivePrecision is the precision the forward runs in now: the
// configured one, except bf16 on a CPU, build or DEEPNMF_CPU path without
// AVX512_BF16, which runs float32.
func (l *Layer) EffectivePrecision() kernels.Precision {
	return kernels.EffectivePrecision(l.Precision)
}

func (l *Layer) name() string {
	if l.Name != "" {
		return l.Name
	}
	return fmt.Sprintf("nnmf %d→%d", l.In, l.Out)
}

func (l *Layer) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", l.name(), fmt.Sprintf(format, args...))
}

// notFinite builds the error for a non-finite value of the named tensor.
func (l *Layer) notFinite(what string, index int) error {
	return fmt.Errorf("%s: %s[%d] is not finite: %w", l.name(), what, index, ErrNotFinite)
}
