package kernels

// The official code's two float32 guards (spec §1.3, §6 item 25), defined once
// here for every package that divides by a sum or a reconstruction.
const (
	// NormGuard is the Python literal 10e-20 (= 1e-19): added to the sum of a
	// row before it is divided by it (weight rows, h, L1Norm).
	NormGuard = float32(1e-19)
	// ReconGuard is the literal 1e-20: added to the reconstruction R = h·W
	// before x is divided by it, and to the loss's log arguments.
	ReconGuard = float32(1e-20)
)
