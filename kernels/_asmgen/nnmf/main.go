// Command nnmf generates the fused NNMF tile kernels of package kernels with avo:
//
//	go run . -out ../../nnmf_amd64.s -stubs ../../nnmf_stubs_amd64.go -pkg kernels
//
// (see the go:generate line in kernels/nnmf_amd64.go).
//
// A tile kernel runs iters multiplicative updates (spec §1.3) on n rows
// (n = 8 for AVX-512, 4 for AVX2):
//
//	xt, qt: n × dp   (x padded with zeros; q = x / (h·W + 1e-20) scratch)
//	ht:     n × kp   (h, padding lanes zero; updated in place)
//	wp:     k × dp   (W, rows padded with zeros)
//	wt:     d × kp   (Wᵀ, rows padded with zeros)
//
// dp and kp are multiples of the vector length. Each iteration has three phases:
//
//	A  R = h·W with lanes over d, in blocks of up to 3 vectors × n rows of
//	   accumulators; each W vector loaded once feeds the n rows; the block then
//	   becomes q = x / (R + 1e-20).
//	B  u = q·Wᵀ with lanes over k, in blocks of up to 3 zmm (2 ymm) × n rows;
//	   each Wᵀ vector feeds the n rows; then h ← h·u (or h·(1 + ε·u)).
//	C  per row h ← h / (Σh + 1e-19); when one B block covers the whole h row
//	   (kp ≤ 3 vectors) the block does it while h·u is still in registers.
//
// In both products each row's scalar (h_k in A, q_d in B) is broadcast into a
// register once and feeds w FMAs. Folding it into every FMA as an embedded
// broadcast costs one load per FMA; with two 512-bit FMA pipes (Zen 5) that
// left the FMAs waiting on the load ports (B measured 6-7 % slower that way,
// 2026-12-03).
package main

import (
	"flag"
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const signature = "func(xt, qt, ht, wp, wt *float32, k, d, kp, dp, iters, useEps int, eps float32)"

type isa struct {
	name   string
	lanes  int // floats per vector
	rows   int // rows of the tile (4 or 8)
	chunkA int // max vectors per row in phase A
	groupB int // max vectors per row in phase B
	vec    func() VecVirtual
}

var (
	// 8 rows × 3 vectors = 24 accumulators + 3 matrix vectors + 1 broadcast
	// of the 32 zmm registers.
	avx512 = isa{name: "AVX512", lanes: 16, rows: 8, chunkA: 3, groupB: 3, vec: ZMM}
	avx2   = isa{name: "AVX2", lanes: 8, rows: 4, chunkA: 3, groupB: 2, vec: YMM}
)

func (s isa) bytes() int { return 4 * s.lanes }

func main() {
	flag.BoolVar(&bf16Bcst, "bf16-bcst", bf16Bcst, "feed VDPBF16PS its pair as a {1to16} memory operand")
	flag.Parse()
	ConstraintExpr("amd64,!noasm,!purego")
	gen(avx512)
	gen(avx2)
	genApprox(avx512)
	genBF16()
	Generate()
}

// rowAddr addresses row i (0..3) of a 4-row block: base + i·stride + disp,
// with stride and stride3 = 3·stride in registers.
func rowAddr(base, stride, stride3 Register, i, disp int) Mem {
	switch i {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 1:
		return Mem{Base: base, Index: stride, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: base, Index: stride, Scale: 2, Disp: disp}
	}
	return Mem{Base: base, Index: stride3, Scale: 1, Disp: disp}
}

// tileRows addresses the rows of a tile: row i at base + i·stride, with rows
// 4..7 reached through base4 = base + 4·stride.
type tileRows struct {
	base, base4, stride, stride3 Register
}

// newTileRows derives stride3 (and base4 for an 8-row tile) from base and
// stride.
func newTileRows(s isa, base, stride Register) tileRows {
	t := tileRows{base: base, stride: stride, stride3: GP64()}
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, t.stride3)
	if s.rows > 4 {
		t.base4 = GP64()
		LEAQ(Mem{Base: base, Index: stride, Scale: 4}, t.base4)
	}
	return t
}

func (t tileRows) addr(i, disp int) Mem {
	if i >= 4 {
		return rowAddr(t.base4, t.stride, t.stride3, i-4, disp)
	}
	return rowAddr(t.base, t.stride, t.stride3, i, disp)
}

// advance moves every row pointer on by n bytes.
func (t tileRows) advance(n int) {
	ADDQ(U8(n), t.base)
	if t.base4 != nil {
		ADDQ(U8(n), t.base4)
	}
}

// broadcastConst puts the float32 c in every lane of a new vector register.
func broadcastConst(s isa, c float32) VecVirtual {
	g := GP32()
	MOVL(U32(math.Float32bits(c)), g)
	x := XMM()
	VMOVD(g, x)
	v := s.vec()
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

func label(s isa, parts ...any) string {
	return s.name + fmt.Sprint(parts...)
}

func gen(s isa) {
	name := "nnmfTile" + s.name
	TEXT(name, NOSPLIT, signature)
	// The kernels only read and write through their pointers during the
	// call, so the slices they point into need not escape to the heap.
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs iters NNMF updates on a %d-row tile with %s.", name, s.rows, s.name))

	iters := Load(Param("iters"), GP64())
	Label(label(s, "iter"))
	blockLoop(s, "A", "dp", s.chunkA, chunkA)

	// When one block of phase B covers the whole padded h row (kp ≤ 3
	// vectors: layers with K ≤ 48 on AVX-512), h·u is still in registers at
	// the end of the block and the row is normalised there, instead of by
	// phase C, which stores h, loads it back to sum it and again to divide
	// (layer 1, K = 32: 3-4 % faster on Zen 5, 2026-12-03).
	next := label(s, "next")
	general := label(s, "B_general")
	kpb := Load(Param("kp"), GP64())
	CMPQ(kpb, U32(s.groupB*s.lanes))
	JA(LabelRef(general))
	for w := 1; w <= s.groupB; w++ {
		CMPQ(kpb, U32(w*s.lanes))
		JE(LabelRef(label(s, "B_whole", w)))
	}
	JMP(LabelRef(general))
	for w := 1; w <= s.groupB; w++ {
		Label(label(s, "B_whole", w))
		groupB(s, nil, w)
		JMP(LabelRef(next))
	}
	Label(general)
	blockLoop(s, "B", "kp", s.groupB, groupB)
	phaseC(s)
	Label(next)
	DECQ(iters)
	JNE(LabelRef(label(s, "iter")))
	VZEROUPPER()
	RET()
}

// blockLoop walks a padded row of the parameter size (dp or kp floats, a
// multiple of the vector length) in blocks of up to maxW vectors and emits
// body(offset, w) for each block width. A remainder of 4 vectors with maxW 3
// goes as 2 + 2, not 3 + 1: a one-vector block has too few accumulators to
// hide the FMA latency.
func blockLoop(s isa, phase, size string, maxW int, body func(s isa, off Register, w int)) {
	vb := s.bytes()
	off := GP64() // byte offset of the block within a padded row
	zeroGP(off)
	loop := label(s, phase, "_loop")
	done := label(s, phase, "_done")
	block := func(w int) string { return label(s, phase, "_block", w) }
	Label(loop)
	rem := Load(Param(size), GP64())
	SHLQ(U8(2), rem)
	SUBQ(off, rem) // bytes left in the row
	JE(LabelRef(done))
	if maxW == 3 {
		CMPQ(rem, U32(4*vb))
		JE(LabelRef(block(2)))
	}
	CMPQ(rem, U32(maxW*vb))
	JAE(LabelRef(block(maxW)))
	for w := maxW - 1; w >= 2; w-- {
		CMPQ(rem, U32(w*vb))
		JE(LabelRef(block(w)))
	}
	JMP(LabelRef(block(1)))
	for w := maxW; w >= 1; w-- {
		Label(block(w))
		body(s, off, w)
		ADDQ(U32(w*vb), off)
		JMP(LabelRef(loop))
	}
	Label(done)
}

// chunkA computes w vectors of R = h·W at byte offset c of every row and turns
// them into q = x / (R + 1e-20).
func chunkA(s isa, c Register, w int) {
	pw := Load(Param("wp"), GP64())
	ADDQ(c, pw)
	ph := Load(Param("ht"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)
	n := Load(Param("k"), GP64())

	acc := rankOneLoop(s, label(s, "A_k", w), w, pw, dpb, newTileRows(s, ph, kpb), n)

	eps := broadcastConst(s, 1e-20)
	px := Load(Param("xt"), GP64())
	ADDQ(c, px)
	pq := Load(Param("qt"), GP64())
	ADDQ(c, pq)
	xr := newTileRows(s, px, dpb)
	qr := tileRows{base: pq, stride: dpb, stride3: xr.stride3}
	if s.rows > 4 {
		qr.base4 = GP64()
		LEAQ(Mem{Base: pq, Index: dpb, Scale: 4}, qr.base4)
	}
	for i := 0; i < s.rows; i++ {
		for v := 0; v < w; v++ {
			r := acc[i][v]
			VADDPS(eps, r, r)
			x := s.vec()
			VMOVUPS(xr.addr(i, v*s.bytes()), x)
			// An exact VDIVPS. A reciprocal estimate plus a Newton step on the
			// quotient measured no faster with 8-row tiles on Zen 5 (L1
			// 182 vs 189, L2 212 vs 216 GFLOP per CPU second, 2026-12-03): the
			// divider works while the next block's FMAs run.
			VDIVPS(r, x, x)
			VMOVUPS(x, qr.addr(i, v*s.bytes()))
		}
	}
}

// groupB computes w vectors of u = q·Wᵀ at byte offset g of every h row and
// updates h ← h·u (or h·(1 + ε·u)).
//
// With g nil the block is the whole row (offset 0, w vectors = kp), and it
// also normalises h as phase C would.
func groupB(s isa, g Register, w int) {
	whole := g == nil
	pt := Load(Param("wt"), GP64())
	if !whole {
		ADDQ(g, pt)
	}
	pq := Load(Param("qt"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)
	n := Load(Param("d"), GP64())

	loop := label(s, "B_d", w)
	plain := label(s, "B_plain", w)
	if whole {
		loop = label(s, "B_whole_d", w)
		plain = label(s, "B_whole_plain", w)
	}
	acc := rankOneLoop(s, loop, w, pt, kpb, newTileRows(s, pq, dpb), n)

	ph := Load(Param("ht"), GP64())
	if !whole {
		ADDQ(g, ph)
	}
	hr := newTileRows(s, ph, kpb)
	useEps := Load(Param("useEps"), GP64())
	TESTQ(useEps, useEps)
	JE(LabelRef(plain))
	// h·(1 + ε·u): ε·u, then + 1, then the product, each rounded as in spec §1.3.
	eps := s.vec()
	VBROADCASTSS(paramMem("eps"), eps)
	one := broadcastConst(s, 1)
	for i := 0; i < s.rows; i++ {
		for v := 0; v < w; v++ {
			VMULPS(eps, acc[i][v], acc[i][v])
			VADDPS(one, acc[i][v], acc[i][v])
		}
	}
	Label(plain)
	for i := 0; i < s.rows; i++ {
		for v := 0; v < w; v++ {
			m := hr.addr(i, v*s.bytes())
			VMULPS(m, acc[i][v], acc[i][v])
			if !whole {
				VMOVUPS(acc[i][v], m)
			}
		}
	}
	if !whole {
		return
	}
	// h ← h / (Σh + 1e-19), row by row, as phase C (the padding lanes are 0
	// and add nothing).
	normEps := broadcastConst(s, 1e-19)
	for i := 0; i < s.rows; i++ {
		sum := s.vec()
		VMOVAPS(acc[i][0], sum)
		for v := 1; v < w; v++ {
			VADDPS(acc[i][v], sum, sum)
		}
		allLanesSum(s, sum)
		VADDPS(normEps, sum, sum)
		for v := 0; v < w; v++ {
			VDIVPS(sum, acc[i][v], acc[i][v])
			VMOVUPS(acc[i][v], hr.addr(i, v*s.bytes()))
		}
	}
}

// allLanesSum replaces every lane of v by the sum of all its lanes, by a
// fixed tree of swaps and adds (so the result is the same in every lane and
// on every call): 256-bit halves, 128-bit lanes, pairs, neighbours.
func allLanesSum(s isa, v VecVirtual) {
	t := s.vec()
	if s.lanes == 16 {
		VSHUFF32X4(U8(0x4e), v, v, t) // 128-bit lanes 2 3 0 1
		VADDPS(t, v, v)
		VSHUFF32X4(U8(0xb1), v, v, t) // 128-bit lanes 1 0 3 2
		VADDPS(t, v, v)
	} else {
		VPERM2F128(U8(0x01), v, v, t) // swap the 128-bit halves
		VADDPS(t, v, v)
	}
	VPERMILPS(U8(0x4e), v, t) // within each 128-bit lane: 2 3 0 1
	VADDPS(t, v, v)
	VPERMILPS(U8(0xb1), v, t) // 1 0 3 2
	VADDPS(t, v, v)
}

// phaseC normalises every row of h: h ← h / (Σh + 1e-19).
func phaseC(s isa) {
	ph := Load(Param("ht"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	for i := 0; i < s.rows; i++ {
		sum := s.vec()
		zeroVecs(s, sum)
		off := GP64()
		zeroGP(off)
		sumLoop := label(s, "C_sum", i)
		Label(sumLoop)
		VADDPS(Mem{Base: ph, Index: off, Scale: 1}, sum, sum)
		ADDQ(U32(s.bytes()), off)
		CMPQ(off, kpb)
		JL(LabelRef(sumLoop))

		// Horizontal sum to lane 0, then broadcast Σh + 1e-19.
		var x VecVirtual
		if s.lanes == 16 {
			y := YMM()
			VEXTRACTF64X4(U8(1), sum, y)
			lo := YMM()
			VEXTRACTF64X4(U8(0), sum, lo)
			VADDPS(y, lo, y)
			x = reduceYMM(y)
		} else {
			x = reduceYMM(sum)
		}
		t := XMM()
		g := GP32()
		MOVL(U32(math.Float32bits(1e-19)), g)
		VMOVD(g, t)
		VADDSS(t, x, x)
		den := s.vec()
		VBROADCASTSS(x, den)

		zeroGP(off)
		divLoop := label(s, "C_div", i)
		Label(divLoop)
		hv := s.vec()
		VMOVUPS(Mem{Base: ph, Index: off, Scale: 1}, hv)
		// An exact VDIVPS here: a reciprocal and Newton step measured within
		// noise (≤ 2 %) on Zen 5, 2026-12-03, so h keeps the exact division.
		VDIVPS(den, hv, hv)
		VMOVUPS(hv, Mem{Base: ph, Index: off, Scale: 1})
		ADDQ(U32(s.bytes()), off)
		CMPQ(off, kpb)
		JL(LabelRef(divLoop))
		ADDQ(kpb, ph)
	}
}

// reduceYMM adds the 8 lanes of y into lane 0 of the returned XMM register.
func reduceYMM(y VecVirtual) VecVirtual {
	hi := XMM()
	VEXTRACTF128(U8(1), y, hi)
	lo := XMM()
	VEXTRACTF128(U8(0), y, lo)
	VADDPS(hi, lo, lo)
	t := XMM()
	VMOVHLPS(lo, lo, t)
	VADDPS(t, lo, lo)
	VMOVSHDUP(lo, t)
	VADDSS(t, lo, lo)
	return lo
}

// rankOneLoop emits the loop both products of the iteration share: n times,
// load w vectors of a matrix row at mat (then advance mat by matStep bytes)
// and add them, times the next scalar of each of the tile's rows (row i's
// scalars start at vecs.addr(i, 0) and advance by 4 bytes), into that row's w
// accumulators, which it returns zeroed-then-summed.
func rankOneLoop(s isa, loop string, w int, mat, matStep Register, vecs tileRows, n Register) [][]VecVirtual {
	acc := make([][]VecVirtual, s.rows)
	var all []VecVirtual
	for i := range acc {
		acc[i] = make([]VecVirtual, w)
		for v := range acc[i] {
			acc[i][v] = s.vec()
			all = append(all, acc[i][v])
		}
	}
	zeroVecs(s, all...)
	Label(loop)
	mv := make([]VecVirtual, w)
	for v := range mv {
		mv[v] = s.vec()
		VMOVUPS(Mem{Base: mat, Disp: v * s.bytes()}, mv[v])
	}
	for i := 0; i < s.rows; i++ {
		b := s.vec()
		VBROADCASTSS(vecs.addr(i, 0), b)
		for v := 0; v < w; v++ {
			VFMADD231PS(b, mv[v], acc[i][v])
		}
	}
	ADDQ(matStep, mat)
	vecs.advance(4)
	DECQ(n)
	JNE(LabelRef(loop))
	return acc
}

// zeroVecs clears vs without the xor idiom: avo's liveness analysis takes
// "VPXORD v, v, v" as a read of v, which would keep v live from the function
// entry and exhaust the registers. A broadcast zero is written, never read.
func zeroVecs(s isa, vs ...VecVirtual) {
	z := broadcastConst(s, 0)
	for _, v := range vs {
		VMOVAPS(z, v)
	}
}

// zeroGP sets r to 0 with a plain move, for the same reason as zeroVecs.
func zeroGP(r Register) { MOVQ(U32(0), r) }
