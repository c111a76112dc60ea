// Command rows generates the AVX-512 row kernels of package kernels with avo:
//
//	go run . -out ../../rows_amd64.s -stubs ../../rows_stubs_amd64.go -pkg kernels
//
// (see the go:generate line in kernels/rows_amd64.go).
//
// They are the element-wise passes of the layers around the NNMF kernels
// (L1Norm, BatchNorm, ReLU, the finiteness check), which in Go run one float
// per instruction. Every kernel walks rows of c floats (row stride c) in
// vectors of 16 lanes, the last one under the lane mask "mask" (c mod 16
// lanes; all 16 when c is a multiple of 16), and reproduces the Go twin in
// kernels/rows.go operation for operation: products and sums are rounded
// separately (no FMA), and sums over a row run in 16 lanes (lane j takes
// elements j, j+16, …) reduced by the fixed tree of allLanesSum.
package main

import (
	"flag"
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!noasm,!purego")
	genScaleRows()
	genL1NormBackward()
	genScaleShift()
	genBNGradApply()
	genReLU()
	genReLUBackward()
	genNonFinite()
	genAdam()
	genColStats()
	Generate()
}

const lanes = 16

func broadcastConst(c float32) VecVirtual {
	g := GP32()
	MOVL(U32(math.Float32bits(c)), g)
	x := XMM()
	VMOVD(g, x)
	v := ZMM()
	VBROADCASTSS(x, v)
	return v
}

func paramMem(name string) Mem {
	basic, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return basic.Addr
}

func zeroVec() VecVirtual { return broadcastConst(0) }

// allLanesSum replaces every lane of v by the sum of all its lanes: lane j
// adds lane j^8, then j^4, j^2, j^1.
func allLanesSum(v VecVirtual) {
	t := ZMM()
	VSHUFF32X4(U8(0x4e), v, v, t) // 128-bit lanes 2 3 0 1
	VADDPS(t, v, v)
	VSHUFF32X4(U8(0xb1), v, v, t) // 128-bit lanes 1 0 3 2
	VADDPS(t, v, v)
	VPERMILPS(U8(0x4e), v, t) // 2 3 0 1 within each 128-bit lane
	VADDPS(t, v, v)
	VPERMILPS(U8(0xb1), v, t) // 1 0 3 2
	VADDPS(t, v, v)
}

// rowWalk emits a loop over the vectors of one row: body(off, masked) for
// each full vector (masked false) at byte offset off, then for the last,
// partial vector (masked true) when the row has one. full holds the number of
// full vectors; the tail is taken when tail (a register) is non-zero.
func rowWalk(name string, full, tail Register, body func(off Register, masked bool)) {
	off := GP64()
	MOVQ(U32(0), off)
	n := GP64()
	MOVQ(full, n)
	TESTQ(n, n)
	JE(LabelRef(name + "_tail"))
	Label(name + "_vec")
	body(off, false)
	ADDQ(U8(4*lanes), off)
	DECQ(n)
	JNE(LabelRef(name + "_vec"))
	Label(name + "_tail")
	TESTQ(tail, tail)
	JE(LabelRef(name + "_done"))
	body(off, true)
	Label(name + "_done")
}

// rowParams loads the shape parameters every row kernel takes: rows, the row
// length c in bytes, the number of full vectors, whether there is a tail, and
// the tail mask in a K register.
type rowShape struct {
	rows, cb, full, tail Register
	mask                 OpmaskVirtual
}

func loadShape() rowShape {
	var s rowShape
	s.rows = Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64())
	s.full = GP64()
	MOVQ(c, s.full)
	SHRQ(U8(4), s.full)
	s.tail = GP64()
	MOVQ(c, s.tail)
	ANDQ(U8(15), s.tail)
	s.cb = c
	SHLQ(U8(2), s.cb)
	m := GP32()
	Load(Param("mask"), m)
	s.mask = K()
	KMOVW(m, s.mask)
	return s
}

func load(m Mem, masked bool, k OpmaskVirtual, v VecVirtual) {
	if masked {
		VMOVUPS_Z(m, k, v)
	} else {
		VMOVUPS(m, v)
	}
}

func store(v VecVirtual, masked bool, k OpmaskVirtual, m Mem) {
	if masked {
		VMOVUPS(v, k, m)
	} else {
		VMOVUPS(v, m)
	}
}

func genScaleRows() {
	TEXT("scaleRowsAVX512", NOSPLIT, "func(y, x, f *float32, rows, c int, mask int32)")
	Pragma("noescape")
	Doc("scaleRowsAVX512 writes y = x·f[r] for every row r of x.")
	s := loadShape()
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	pf := Load(Param("f"), GP64())
	Label("sr_row")
	f := ZMM()
	VBROADCASTSS(Mem{Base: pf}, f)
	rowWalk("sr", s.full, s.tail, func(off Register, masked bool) {
		v := ZMM()
		load(Mem{Base: px, Index: off, Scale: 1}, masked, s.mask, v)
		VMULPS(f, v, v)
		store(v, masked, s.mask, Mem{Base: py, Index: off, Scale: 1})
	})
	ADDQ(s.cb, px)
	ADDQ(s.cb, py)
	ADDQ(U8(4), pf)
	DECQ(s.rows)
	JNE(LabelRef("sr_row"))
	VZEROUPPER()
	RET()
}

func genL1NormBackward() {
	TEXT("l1NormRowsBackwardAVX512", NOSPLIT, "func(gx, gy, x, y *float32, rows, c int, mask int32)")
	Pragma("noescape")
	Doc("l1NormRowsBackwardAVX512 writes gx = (gy − Σ gy·y) / (Σx + 1e-19) for every row.")
	s := loadShape()
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	pgy := Load(Param("gy"), GP64())
	pgx := Load(Param("gx"), GP64())
	guard := broadcastConst(1e-19)
	one := broadcastConst(1)
	Label("l1b_row")
	sum := zeroVec()
	dot := zeroVec()
	rowWalk("l1b_sum", s.full, s.tail, func(off Register, masked bool) {
		v := ZMM()
		load(Mem{Base: px, Index: off, Scale: 1}, masked, s.mask, v)
		VADDPS(v, sum, sum)
		g := ZMM()
		load(Mem{Base: pgy, Index: off, Scale: 1}, masked, s.mask, g)
		yv := ZMM()
		load(Mem{Base: py, Index: off, Scale: 1}, masked, s.mask, yv)
		VMULPS(yv, g, g)
		VADDPS(g, dot, dot)
	})
	allLanesSum(sum)
	allLanesSum(dot)
	VADDPS(guard, sum, sum)
	VDIVPS(sum, one, sum)
	rowWalk("l1b_out", s.full, s.tail, func(off Register, masked bool) {
		g := ZMM()
		load(Mem{Base: pgy, Index: off, Scale: 1}, masked, s.mask, g)
		VSUBPS(dot, g, g)
		VMULPS(sum, g, g)
		store(g, masked, s.mask, Mem{Base: pgx, Index: off, Scale: 1})
	})
	ADDQ(s.cb, px)
	ADDQ(s.cb, py)
	ADDQ(s.cb, pgy)
	ADDQ(s.cb, pgx)
	DECQ(s.rows)
	JNE(LabelRef("l1b_row"))
	VZEROUPPER()
	RET()
}

func genScaleShift() {
	TEXT("scaleShiftRowsAVX512", NOSPLIT, "func(y, x, scale, shift *float32, rows, c int, mask int32)")
	Pragma("noescape")
	Doc("scaleShiftRowsAVX512 writes y = x·scale + shift (per column) for every row.")
	s := loadShape()
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	psc := Load(Param("scale"), GP64())
	psh := Load(Param("shift"), GP64())
	Label("ss_row")
	rowWalk("ss", s.full, s.tail, func(off Register, masked bool) {
		v := ZMM()
		load(Mem{Base: px, Index: off, Scale: 1}, masked, s.mask, v)
		VMULPS(Mem{Base: psc, Index: off, Scale: 1}, v, v)
		VADDPS(Mem{Base: psh, Index: off, Scale: 1}, v, v)
		store(v, masked, s.mask, Mem{Base: py, Index: off, Scale: 1})
	})
	ADDQ(s.cb, px)
	ADDQ(s.cb, py)
	DECQ(s.rows)
	JNE(LabelRef("ss_row"))
	VZEROUPPER()
	RET()
}

func genBNGradApply() {
	TEXT("bnGradApplyRowsAVX512", NOSPLIT, "func(gx, gy, x, mean, inv, scale, mg, mgx *float32, rows, c int, mask int32)")
	Pragma("noescape")
	Doc("bnGradApplyRowsAVX512 writes gx = scale·(gy − mg − x̂·mgx), x̂ = (x − mean)·inv, for every row.")
	s := loadShape()
	px := Load(Param("x"), GP64())
	pgy := Load(Param("gy"), GP64())
	pgx := Load(Param("gx"), GP64())
	pmean := Load(Param("mean"), GP64())
	pinv := Load(Param("inv"), GP64())
	psc := Load(Param("scale"), GP64())
	pmg := Load(Param("mg"), GP64())
	pmgx := Load(Param("mgx"), GP64())
	Label("bga_row")
	rowWalk("bga", s.full, s.tail, func(off Register, masked bool) {
		at := func(p Register) Mem { return Mem{Base: p, Index: off, Scale: 1} }
		xh := ZMM()
		load(at(px), masked, s.mask, xh)
		VSUBPS(at(pmean), xh, xh)
		VMULPS(at(pinv), xh, xh)
		VMULPS(at(pmgx), xh, xh)
		g := ZMM()
		load(at(pgy), masked, s.mask, g)
		VSUBPS(at(pmg), g, g)
		VSUBPS(xh, g, g)
		VMULPS(at(psc), g, g)
		store(g, masked, s.mask, at(pgx))
	})
	ADDQ(s.cb, px)
	ADDQ(s.cb, pgy)
	ADDQ(s.cb, pgx)
	DECQ(s.rows)
	JNE(LabelRef("bga_row"))
	VZEROUPPER()
	RET()
}

// genReLU: y = (x unless 0 > x, else 0) + 0. VMAXPS returns its second source
// when either is a NaN, so with x second a NaN passes, as in torch.relu; it
// also passes −0, which the + 0 turns into +0 (as Go's max(v, 0)).
func genReLU() {
	TEXT("reluAVX512", NOSPLIT, "func(y, x *float32, n int)")
	Pragma("noescape")
	Doc("reluAVX512 writes y = max(x, 0), NaN passing, for n floats (a multiple of 64).")
	n := Load(Param("n"), GP64())
	SHRQ(U8(6), n)
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	zero := zeroVec()
	Label("relu_loop")
	for v := 0; v < 4; v++ {
		x := ZMM()
		VMOVUPS(Mem{Base: px, Disp: 64 * v}, x)
		// Go operand order: VMAXPS src2, src1, dst; dst = src1 > src2 ? src1 : src2.
		VMAXPS(x, zero, x)
		VADDPS(zero, x, x)
		VMOVUPS(x, Mem{Base: py, Disp: 64 * v})
	}
	ADDQ(U32(256), px)
	ADDQ(U32(256), py)
	DECQ(n)
	JNE(LabelRef("relu_loop"))
	VZEROUPPER()
	RET()
}

// genReLUBackward: gx = gy where y's bit pattern is a positive int32 (y > 0,
// or a NaN with the sign bit clear), else +0, as the Go twin's bit mask.
func genReLUBackward() {
	TEXT("reluBackwardAVX512", NOSPLIT, "func(gx, gy, y *float32, n int)")
	Pragma("noescape")
	Doc("reluBackwardAVX512 writes gx = gy where y > 0 (as int32 bits), else 0, for n floats (a multiple of 64).")
	n := Load(Param("n"), GP64())
	SHRQ(U8(6), n)
	py := Load(Param("y"), GP64())
	pgy := Load(Param("gy"), GP64())
	pgx := Load(Param("gx"), GP64())
	zero := zeroVec()
	Label("rb_loop")
	for v := 0; v < 4; v++ {
		yv := ZMM()
		VMOVUPS(Mem{Base: py, Disp: 64 * v}, yv)
		k := K()
		VPCMPGTD(zero, yv, k) // k = y > 0 as int32
		g := ZMM()
		VMOVUPS_Z(Mem{Base: pgy, Disp: 64 * v}, k, g)
		VMOVUPS(g, Mem{Base: pgx, Disp: 64 * v})
	}
	ADDQ(U32(256), py)
	ADDQ(U32(256), pgy)
	ADDQ(U32(256), pgx)
	DECQ(n)
	JNE(LabelRef("rb_loop"))
	VZEROUPPER()
	RET()
}

// genNonFinite returns the index of the first block of 64 floats that holds a
// NaN or an infinity, or n/64 when none does (n a multiple of 64).
func genNonFinite() {
	TEXT("nonFiniteBlockAVX512", NOSPLIT, "func(p *float32, n int) int")
	Pragma("noescape")
	Doc("nonFiniteBlockAVX512 returns the first 64-float block of p[:n] (n a multiple of 64) holding a NaN or ±Inf, or n/64.")
	n := Load(Param("n"), GP64())
	SHRQ(U8(6), n)
	p := Load(Param("p"), GP64())
	i := GP64()
	MOVQ(U32(0), i)
	TESTQ(n, n)
	JE(LabelRef("nf_done"))
	Label("nf_loop")
	var ks []OpmaskVirtual
	for v := 0; v < 4; v++ {
		k := K()
		// Class bits: QNaN 0x01, +Inf 0x08, −Inf 0x10, SNaN 0x80.
		VFPCLASSPSZ(U8(0x99), Mem{Base: p, Disp: 64 * v}, k)
		ks = append(ks, k)
	}
	KORW(ks[1], ks[0], ks[0])
	KORW(ks[3], ks[2], ks[2])
	KORTESTW(ks[2], ks[0])
	JNE(LabelRef("nf_done"))
	ADDQ(U32(256), p)
	INCQ(i)
	CMPQ(i, n)
	JNE(LabelRef("nf_loop"))
	Label("nf_done")
	Store(i, ReturnIndex(0))
	RET()
}

// genAdam emits torch.optim.Adam's update on n floats (a multiple of 16) as
// the Go twin kernels.adamGo rounds it: the two moment updates fused (as in
// PyTorch's vectorised CPU kernel), everything else op by op. VSQRTPS and
// VDIVPS round correctly, as the twin's float64 square root rounded to
// float32 does.
func genAdam() {
	TEXT("adamAVX512", NOSPLIT, "func(param, grad, mom, vel *float32, n int, sc *float32)")
	Pragma("noescape")
	Doc("adamAVX512 applies one Adam update to n parameters (a multiple of 16).")
	n := Load(Param("n"), GP64())
	SHRQ(U8(4), n)
	// Not g, m, v: "g" is the goroutine register in Go assembly.
	pw := Load(Param("param"), GP64())
	pg := Load(Param("grad"), GP64())
	pm := Load(Param("mom"), GP64())
	pv := Load(Param("vel"), GP64())
	ps := Load(Param("sc"), GP64())
	// AdamScalars field order: B1, OmB1, B2, OmB2, Bc2, Eps, NegStep.
	sc := make([]VecVirtual, 7)
	for i := range sc {
		sc[i] = ZMM()
		VBROADCASTSS(Mem{Base: ps, Disp: 4 * i}, sc[i])
	}
	b1, omb1, b2, omb2, bc2, eps, negStep := sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6]
	TESTQ(n, n)
	JE(LabelRef("adam_done"))
	off := GP64()
	MOVQ(U32(0), off)
	Label("adam_loop")
	at := func(p Register) Mem { return Mem{Base: p, Index: off, Scale: 1} }
	g := ZMM()
	VMOVUPS(at(pg), g)
	m := ZMM()
	VMULPS(at(pm), b1, m)   // m·β1
	VFMADD231PS(omb1, g, m) // g·(1−β1) + m·β1, rounded once
	VMOVUPS(m, at(pm))
	v := ZMM()
	VMULPS(at(pv), b2, v) // v·β2
	t := ZMM()
	VMULPS(g, omb2, t)   // (1−β2)·g
	VFMADD231PS(g, t, v) // (1−β2)·g·g + v·β2, rounded once
	VMOVUPS(v, at(pv))
	VSQRTPS(v, v)
	VDIVPS(bc2, v, v)
	VADDPS(eps, v, v) // denom
	VMULPS(negStep, m, m)
	VDIVPS(v, m, m)
	VADDPS(at(pw), m, m)
	VMOVUPS(m, at(pw))
	ADDQ(U8(64), off)
	DECQ(n)
	JNE(LabelRef("adam_loop"))
	Label("adam_done")
	VZEROUPPER()
	RET()
}

// genColStats emits the two BatchNorm statistics passes, which add per column
// over the rows in float64 (as the Go twins, row by row in order):
//
//	bnStats:     sum += x, sq += x·x
//	bnGradStats: sg += gy, sgx += float32(gy·x̂), x̂ = (x − mean)·inv in float32
//
// A pass holds up to 4 blocks of 8 columns (32 float64 accumulators in 8
// registers) across all rows, so each row is read once per 32 columns. c is
// a multiple of 8 here (the first c of the ld columns of each row); the Go
// wrapper does the rest.
func genColStats() {
	for _, grad := range []bool{false, true} {
		name, sig := "bnStatsAVX512", "func(sum, sq *float64, x *float32, rows, c, ld int)"
		if grad {
			name, sig = "bnGradStatsAVX512", "func(sum, sq *float64, x, gy, mean, inv *float32, rows, c, ld int)"
		}
		TEXT(name, NOSPLIT, sig)
		Pragma("noescape")
		Doc(name + " adds the per-column float64 statistics of the first c columns (a multiple of 8) of rows × ld floats.")
		col := GP64() // first column of the pass
		MOVQ(U32(0), col)
		Label(name + "_pass")
		left := Load(Param("c"), GP64())
		SUBQ(col, left)
		JE(LabelRef(name + "_done"))
		for _, w := range []int{4, 3, 2} {
			CMPQ(left, U8(8*w))
			JAE(LabelRef(fmt.Sprintf("%s_w%d", name, w)))
		}
		JMP(LabelRef(name + "_w1"))
		for w := 4; w >= 1; w-- {
			Label(fmt.Sprintf("%s_w%d", name, w))
			colStatsPass(name, grad, col, w)
			ADDQ(U8(8*w), col)
			JMP(LabelRef(name + "_pass"))
		}
		Label(name + "_done")
		VZEROUPPER()
		RET()
	}
}

func colStatsPass(name string, grad bool, col Register, w int) {
	tag := fmt.Sprintf("%s_p%d", name, w)
	cb := Load(Param("ld"), GP64()) // row stride
	SHLQ(U8(2), cb)
	px := Load(Param("x"), GP64())
	LEAQ(Mem{Base: px, Index: col, Scale: 4}, px)
	var pg, pmean, pinv Register
	if grad {
		pg = Load(Param("gy"), GP64())
		LEAQ(Mem{Base: pg, Index: col, Scale: 4}, pg)
		pmean = Load(Param("mean"), GP64())
		LEAQ(Mem{Base: pmean, Index: col, Scale: 4}, pmean)
		pinv = Load(Param("inv"), GP64())
		LEAQ(Mem{Base: pinv, Index: col, Scale: 4}, pinv)
	}
	psum := Load(Param("sum"), GP64())
	LEAQ(Mem{Base: psum, Index: col, Scale: 8}, psum)
	psq := Load(Param("sq"), GP64())
	LEAQ(Mem{Base: psq, Index: col, Scale: 8}, psq)
	sum, sq := make([]VecVirtual, w), make([]VecVirtual, w)
	var mean, inv []VecVirtual
	for b := 0; b < w; b++ {
		sum[b], sq[b] = ZMM(), ZMM()
		VMOVUPD(Mem{Base: psum, Disp: 64 * b}, sum[b])
		VMOVUPD(Mem{Base: psq, Disp: 64 * b}, sq[b])
		if grad {
			m, i := YMM(), YMM()
			VMOVUPS(Mem{Base: pmean, Disp: 32 * b}, m)
			VMOVUPS(Mem{Base: pinv, Disp: 32 * b}, i)
			mean, inv = append(mean, m), append(inv, i)
		}
	}
	n := Load(Param("rows"), GP64())
	TESTQ(n, n)
	JE(LabelRef(tag + "_store"))
	Label(tag + "_row")
	for b := 0; b < w; b++ {
		x := YMM()
		VMOVUPS(Mem{Base: px, Disp: 32 * b}, x)
		if !grad {
			d := ZMM()
			VCVTPS2PD(x, d)
			VADDPD(d, sum[b], sum[b])
			VMULPD(d, d, d)
			VADDPD(d, sq[b], sq[b])
			continue
		}
		VSUBPS(mean[b], x, x)
		VMULPS(inv[b], x, x) // x̂
		g := YMM()
		VMOVUPS(Mem{Base: pg, Disp: 32 * b}, g)
		VMULPS(g, x, x) // gy·x̂ in float32
		d := ZMM()
		VCVTPS2PD(g, d)
		VADDPD(d, sum[b], sum[b])
		VCVTPS2PD(x, d)
		VADDPD(d, sq[b], sq[b])
	}
	ADDQ(cb, px)
	if grad {
		ADDQ(cb, pg)
	}
	DECQ(n)
	JNE(LabelRef(tag + "_row"))
	Label(tag + "_store")
	for b := 0; b < w; b++ {
		VMOVUPD(sum[b], Mem{Base: psum, Disp: 64 * b})
		VMOVUPD(sq[b], Mem{Base: psq, Disp: 64 * b})
	}
}
