//go:build !amd64 || noasm || purego

package kernels

func rowKernels() bool { return false }

// The assembly entry points never run here (rowKernels is false); they exist
// so that the dispatching code compiles on every platform.

func scaleRowsAVX512(y, x, f *float32, rows, c int, mask int32)                 { panic("unreachable") }
func l1NormRowsBackwardAVX512(gx, gy, x, y *float32, rows, c int, mask int32)   { panic("unreachable") }
func scaleShiftRowsAVX512(y, x, scale, shift *float32, rows, c int, mask int32) { panic("unreachable") }
func bnGradApplyRowsAVX512(gx, gy, x, mean, inv, scale, mg, mgx *float32, rows, c int, mask int32) {
	panic("unreachable")
}
func reluBackwardAVX512(gx, gy, y *float32, n int)                  { panic("unreachable") }
func nonFiniteBlockAVX512(p *float32, n int) int                    { panic("unreachable") }
func adamAVX512(param, grad, mom, vel *float32, n int, sc *float32) { panic("unreachable") }
func reluAVX512(y, x *float32, n int)                               { panic("unreachable") }
func bnStatsAVX512(sum, sq *float64, x *float32, rows, c, ld int)   { panic("unreachable") }
func bnGradStatsAVX512(sum, sq *float64, x, gy, mean, inv *float32, rows, c, ld int) {
	panic("unreachable")
}
