package kernels

import "math"

// Row kernels of the layers around the NNMF kernels: L1Norm, the BatchNorm
// passes, ReLU's gradient and the finiteness check, on row-major rows × c
// matrices. On AVX-512 they run as assembly (_asmgen/rows) that reproduces the
// Go code here bit for bit: products and sums are rounded one by one, and a
// sum over a row runs in 16 lanes (lane j takes elements j, j+16, …) reduced
// by a fixed tree (rowSum16). Elsewhere the Go code runs.

// rowSum16 is the sum of x in the lane order of the assembly.
func rowSum16(x []float32) float32 {
	var l [16]float32
	for i, v := range x {
		l[i%16] += v
	}
	return laneTree(l)
}

// rowDot16 is Σ a·b in the lane order of the assembly.
func rowDot16(a, b []float32) float32 {
	var l [16]float32
	for i, v := range a {
		l[i%16] += float32(v * b[i])
	}
	return laneTree(l)
}

// laneTree reduces 16 lanes as the assembly's allLanesSum: lane j adds lane
// j^8, then j^4, j^2, j^1.
func laneTree(l [16]float32) float32 {
	for _, m := range [...]int{8, 4, 2, 1} {
		var t [16]float32
		for j := range l {
			t[j] = l[j] + l[j^m]
		}
		l = t
	}
	return l[0]
}

func tailMask(c int) int32 {
	if t := c % 16; t != 0 {
		return 1<<t - 1
	}
	return 0xffff
}

// L1NormRows writes y = x / (Σx + NormGuard) for every row of x (rows × c);
// y may be x. Each row's sum runs sequentially in float32, in channel order,
// as PyTorch's sum over the channel dimension of an NCHW tensor does (one
// position per SIMD lane): the NNMF layer's weight gradient downstream is a
// small difference of large terms, and another order moves it by 1e-4
// relative against the golden files. Four rows are summed at once for
// instruction-level parallelism; the scaling runs in assembly.
func L1NormRows(y, x []float32, rows, c int) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _ = x[rows*c-1], y[rows*c-1]
	const chunk = 64
	var inv [chunk]float32
	for r0 := 0; r0 < rows; r0 += chunk {
		n := min(chunk, rows-r0)
		xs, ys := x[r0*c:(r0+n)*c], y[r0*c:(r0+n)*c]
		rowSumsSeq(inv[:n], xs, n, c)
		for i := range inv[:n] {
			inv[i] = 1 / (inv[i] + NormGuard)
		}
		if rowKernels() {
			scaleRowsAVX512(&ys[0], &xs[0], &inv[0], n, c, tailMask(c))
		} else {
			scaleRowsGo(ys, xs, inv[:n], n, c)
		}
	}
}

// rowSumsSeq writes the sequential float32 sum of each row of x into sums.
func rowSumsSeq(sums, x []float32, rows, c int) {
	r := 0
	for ; r+4 <= rows; r += 4 {
		x0 := x[r*c : (r+1)*c]
		x1 := x[(r+1)*c : (r+2)*c][:len(x0)]
		x2 := x[(r+2)*c : (r+3)*c][:len(x0)]
		x3 := x[(r+3)*c : (r+4)*c][:len(x0)]
		var s0, s1, s2, s3 float32
		for i, v := range x0 {
			s0 += v
			s1 += x1[i]
			s2 += x2[i]
			s3 += x3[i]
		}
		sums[r], sums[r+1], sums[r+2], sums[r+3] = s0, s1, s2, s3
	}
	for ; r < rows; r++ {
		var s float32
		for _, v := range x[r*c : (r+1)*c] {
			s += v
		}
		sums[r] = s
	}
}

func scaleRowsGo(y, x, f []float32, rows, c int) {
	for r := 0; r < rows; r++ {
		xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
		for i, v := range xr {
			yr[i] = v * f[r]
		}
	}
}

// L1NormRowsBackward writes the gradient of L1NormRows, gx = (gy − Σ gy·y) /
// (Σx + NormGuard), for every row; gx may be gy.
func L1NormRowsBackward(gx, gy, x, y []float32, rows, c int) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _, _, _ = gx[rows*c-1], gy[rows*c-1], x[rows*c-1], y[rows*c-1]
	if rowKernels() {
		l1NormRowsBackwardAVX512(&gx[0], &gy[0], &x[0], &y[0], rows, c, tailMask(c))
		return
	}
	l1NormRowsBackwardGo(gx, gy, x, y, rows, c)
}

func l1NormRowsBackwardGo(gx, gy, x, y []float32, rows, c int) {
	for r := 0; r < rows; r++ {
		lo, hi := r*c, (r+1)*c
		dot := rowDot16(gy[lo:hi], y[lo:hi])
		inv := 1 / (rowSum16(x[lo:hi]) + NormGuard)
		for i, g := range gy[lo:hi] {
			gx[lo+i] = (g - dot) * inv
		}
	}
}

// ScaleShiftRows writes y = x·scale + shift, per column, for every row (the
// BatchNorm apply); y may be x.
func ScaleShiftRows(y, x []float32, rows, c int, scale, shift []float32) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _, _, _ = x[rows*c-1], y[rows*c-1], scale[c-1], shift[c-1]
	if rowKernels() {
		scaleShiftRowsAVX512(&y[0], &x[0], &scale[0], &shift[0], rows, c, tailMask(c))
		return
	}
	scaleShiftRowsGo(y, x, rows, c, scale, shift)
}

func scaleShiftRowsGo(y, x []float32, rows, c int, scale, shift []float32) {
	scale, shift = scale[:c], shift[:c]
	for r := 0; r < rows; r++ {
		xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
		for i, v := range xr {
			yr[i] = float32(v*scale[i]) + shift[i]
		}
	}
}

// BatchNormGradRows writes the BatchNorm input gradient with batch
// statistics, gx = scale·(gy − mg − x̂·mgx) with x̂ = (x − mean)·inv, per
// column, for every row; gx may be gy.
func BatchNormGradRows(gx, gy, x []float32, rows, c int, mean, inv, scale, mg, mgx []float32) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _, _ = gx[rows*c-1], gy[rows*c-1], x[rows*c-1]
	_, _, _, _, _ = mean[c-1], inv[c-1], scale[c-1], mg[c-1], mgx[c-1]
	if rowKernels() {
		bnGradApplyRowsAVX512(&gx[0], &gy[0], &x[0], &mean[0], &inv[0], &scale[0], &mg[0], &mgx[0], rows, c, tailMask(c))
		return
	}
	batchNormGradRowsGo(gx, gy, x, rows, c, mean, inv, scale, mg, mgx)
}

func batchNormGradRowsGo(gx, gy, x []float32, rows, c int, mean, inv, scale, mg, mgx []float32) {
	mean, inv, scale, mg, mgx = mean[:c], inv[:c], scale[:c], mg[:c], mgx[:c]
	for r := 0; r < rows; r++ {
		lo := r * c
		for i, g := range gy[lo : lo+c] {
			xh := float32(float32(x[lo+i]-mean[i])*inv[i]) * mgx[i]
			gx[lo+i] = float32(float32(g-mg[i])-xh) * scale[i]
		}
	}
}

// ReLUGrad writes ReLU's input gradient from its output y: gx = gy where y's
// bit pattern is a positive int32 (y > 0, or a NaN with the sign bit clear:
// a NaN passes the gradient, as in PyTorch), else +0; gx may be gy.
func ReLUGrad(gx, gy, y []float32) {
	n := len(y)
	_, _ = gx[:n], gy[:n]
	head := 0
	if rowKernels() && n >= 64 {
		head = n &^ 63
		reluBackwardAVX512(&gx[0], &gy[0], &y[0], head)
	}
	reluGradGo(gx[head:n], gy[head:n], y[head:n])
}

func reluGradGo(gx, gy, y []float32) {
	for i, v := range y {
		if int32(math.Float32bits(v)) > 0 {
			gx[i] = gy[i]
		} else {
			gx[i] = 0
		}
	}
}

// FirstNonFinite returns the index of the first NaN or ±Inf in s, or -1.
func FirstNonFinite(s []float32) int {
	head := 0
	if rowKernels() && len(s) >= 64 {
		blocks := len(s) / 64
		b := nonFiniteBlockAVX512(&s[0], blocks*64)
		if b < blocks {
			return b*64 + firstNonFiniteGo(s[b*64:b*64+64])
		}
		head = blocks * 64
	}
	if i := firstNonFiniteGo(s[head:]); i >= 0 {
		return head + i
	}
	return -1
}

func firstNonFiniteGo(s []float32) int {
	for i, v := range s {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// BatchNormStats adds the column sums of x (rows × c) to sum[:c] and of x² to
// sq[:c], in float64 (the cancellation in E[x²] − E[x]² stays far below
// float32 resolution), row by row in order.
func BatchNormStats(sum, sq []float64, x []float32, rows, c int) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _, _ = x[rows*c-1], sum[c-1], sq[c-1]
	head := 0
	if rowKernels() && c >= 8 {
		head = c &^ 7
		bnStatsAVX512(&sum[0], &sq[0], &x[0], rows, head, c)
	}
	if head < c {
		batchNormStatsGo(sum, sq, x, rows, c, head)
	}
}

// batchNormStatsGo is the twin of the assembly for columns [from, c).
func batchNormStatsGo(sum, sq []float64, x []float32, rows, c, from int) {
	for r := 0; r < rows; r++ {
		for j := from; j < c; j++ {
			f := float64(x[r*c+j])
			sum[j] += f
			sq[j] += float64(f * f)
		}
	}
}

// BatchNormGradStats adds, per column of the rows × c matrices, Σgy to sg and
// Σ float32(gy·x̂) to sgx in float64, with x̂ = (x − mean)·inv in float32.
func BatchNormGradStats(sg, sgx []float64, x, gy, mean, inv []float32, rows, c int) {
	if rows <= 0 || c <= 0 {
		return
	}
	_, _, _, _, _, _ = x[rows*c-1], gy[rows*c-1], sg[c-1], sgx[c-1], mean[c-1], inv[c-1]
	head := 0
	if rowKernels() && c >= 8 {
		head = c &^ 7
		bnGradStatsAVX512(&sg[0], &sgx[0], &x[0], &gy[0], &mean[0], &inv[0], rows, head, c)
	}
	if head < c {
		batchNormGradStatsGo(sg, sgx, x, gy, mean, inv, rows, c, head)
	}
}

func batchNormGradStatsGo(sg, sgx []float64, x, gy, mean, inv []float32, rows, c, from int) {
	for r := 0; r < rows; r++ {
		for j := from; j < c; j++ {
			g := gy[r*c+j]
			xh := float32(x[r*c+j]-mean[j]) * inv[j]
			sg[j] += float64(g)
			sgx[j] += float64(g * xh)
		}
	}
}
