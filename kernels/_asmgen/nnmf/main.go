// Command nnmf generates the fused NNMF tile kernels of package kernels with avo:
//
//	go run . -out ../../nnmf_amd64.s -stubs ../../nnmf_stubs_amd64.go -pkg kernels
//
// (see the go:generate line in kernels/nnmf_amd64.go).
//
// A tile kernel runs iters multiplicative updates (spec §1.3) on 4 rows:
//
//	xt, qt: 4 × dp   (x padded with zeros; q = x / (h·W + 1e-20) scratch)
//	ht:     4 × kp   (h, padding lanes zero; updated in place)
//	wp:     k × dp   (W, rows padded with zeros)
//	wt:     d × kp   (Wᵀ, rows padded with zeros)
//
// dp and kp are multiples of 16. Each iteration has three phases:
//
//	A  R = h·W with lanes over d, in chunks of up to 5 zmm (3 ymm) × 4 rows of
//	   accumulators; each W vector loaded once feeds the 4 rows; the chunk then
//	   becomes q = x / (R + 1e-20).
//	B  u = q·Wᵀ with lanes over k, in groups of up to 4 zmm (2 ymm) × 4 rows;
//	   each Wᵀ vector feeds the 4 rows; then h ← h·u (or h·(1 + ε·u)).
//	C  per row h ← h / (Σh + 1e-19).
//
// AVX-512 folds the broadcast of h_k (phase A) and q_d (phase B) into the FMA
// as an embedded broadcast; AVX2 broadcasts into a register.
package main

import (
	"flag"
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	rows      = 4
	signature = "func(xt, qt, ht, wp, wt *float32, k, d, kp, dp, iters, useEps int, eps float32)"
)

type isa struct {
	name   string
	lanes  int // floats per vector
	chunkA int // max vectors per row in phase A
	groupB int // max vectors per row in phase B
	vec    func() VecVirtual
}

var (
	avx512 = isa{name: "AVX512", lanes: 16, chunkA: 5, groupB: 4, vec: ZMM}
	avx2   = isa{name: "AVX2", lanes: 8, chunkA: 3, groupB: 2, vec: YMM}
)

func (s isa) bytes() int { return 4 * s.lanes }

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!noasm,!purego")
	gen(avx512)
	gen(avx2)
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
	Doc(fmt.Sprintf("%s runs iters NNMF updates on a 4-row tile with %s.", name, s.name))

	iters := Load(Param("iters"), GP64())
	Label(label(s, "iter"))
	phaseA(s)
	phaseB(s)
	phaseC(s)
	DECQ(iters)
	JNE(LabelRef(label(s, "iter")))
	VZEROUPPER()
	RET()
}

// phaseA computes q = x / (h·W + 1e-20) chunk by chunk over d.
func phaseA(s isa) {
	c := GP64() // byte offset of the chunk within a padded row
	zeroGP(c)
	full := s.chunkA * s.bytes()
	Label(label(s, "A_loop"))
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)
	SUBQ(c, dpb) // bytes left in the row
	CMPQ(dpb, U32(full))
	JL(LabelRef(label(s, "A_tail")))
	chunkA(s, c, s.chunkA)
	ADDQ(U32(full), c)
	JMP(LabelRef(label(s, "A_loop")))

	Label(label(s, "A_tail"))
	for w := s.chunkA - 1; w >= 1; w-- {
		CMPQ(dpb, U32(w*s.bytes()))
		JE(LabelRef(label(s, "A_tail", w)))
	}
	JMP(LabelRef(label(s, "A_done")))
	for w := s.chunkA - 1; w >= 1; w-- {
		Label(label(s, "A_tail", w))
		chunkA(s, c, w)
		JMP(LabelRef(label(s, "A_done")))
	}
	Label(label(s, "A_done"))
}

func chunkA(s isa, c Register, w int) {
	pw := Load(Param("wp"), GP64())
	ADDQ(c, pw)
	ph := Load(Param("ht"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	kpb3 := GP64()
	LEAQ(Mem{Base: kpb, Index: kpb, Scale: 2}, kpb3)
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)
	n := Load(Param("k"), GP64())

	acc := rankOneLoop(s, label(s, "A_k", w), w, pw, dpb, ph, kpb, kpb3, n)

	eps := broadcastConst(s, 1e-20)
	px := Load(Param("xt"), GP64())
	ADDQ(c, px)
	pq := Load(Param("qt"), GP64())
	ADDQ(c, pq)
	dpb3 := GP64()
	LEAQ(Mem{Base: dpb, Index: dpb, Scale: 2}, dpb3)
	for i := 0; i < rows; i++ {
		for v := 0; v < w; v++ {
			t := s.vec()
			VADDPS(eps, acc[i][v], acc[i][v])
			VMOVUPS(rowAddr(px, dpb, dpb3, i, v*s.bytes()), t)
			// An exact VDIVPS: a reciprocal estimate plus a Newton step, and
			// interleaving several tiles per call to hide phase C, measured no
			// faster on Zen 4 (2026-11-25).
			VDIVPS(acc[i][v], t, t)
			VMOVUPS(t, rowAddr(pq, dpb, dpb3, i, v*s.bytes()))
		}
	}
}

// phaseB computes u = q·Wᵀ group by group over k and updates h ← h·u.
func phaseB(s isa) {
	g := GP64() // byte offset of the group within a padded h row
	zeroGP(g)
	full := s.groupB * s.bytes()
	Label(label(s, "B_loop"))
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	SUBQ(g, kpb)
	CMPQ(kpb, U32(full))
	JL(LabelRef(label(s, "B_tail")))
	groupB(s, g, s.groupB)
	ADDQ(U32(full), g)
	JMP(LabelRef(label(s, "B_loop")))

	Label(label(s, "B_tail"))
	for w := s.groupB - 1; w >= 1; w-- {
		CMPQ(kpb, U32(w*s.bytes()))
		JE(LabelRef(label(s, "B_tail", w)))
	}
	JMP(LabelRef(label(s, "B_done")))
	for w := s.groupB - 1; w >= 1; w-- {
		Label(label(s, "B_tail", w))
		groupB(s, g, w)
		JMP(LabelRef(label(s, "B_done")))
	}
	Label(label(s, "B_done"))
}

func groupB(s isa, g Register, w int) {
	pt := Load(Param("wt"), GP64())
	ADDQ(g, pt)
	pq := Load(Param("qt"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)
	dpb3 := GP64()
	LEAQ(Mem{Base: dpb, Index: dpb, Scale: 2}, dpb3)
	n := Load(Param("d"), GP64())

	acc := rankOneLoop(s, label(s, "B_d", w), w, pt, kpb, pq, dpb, dpb3, n)

	ph := Load(Param("ht"), GP64())
	ADDQ(g, ph)
	kpb3 := GP64()
	LEAQ(Mem{Base: kpb, Index: kpb, Scale: 2}, kpb3)
	useEps := Load(Param("useEps"), GP64())
	TESTQ(useEps, useEps)
	plain := label(s, "B_plain", w)
	JE(LabelRef(plain))
	// h·(1 + ε·u): ε·u, then + 1, then the product, each rounded as in spec §1.3.
	eps := s.vec()
	VBROADCASTSS(paramMem("eps"), eps)
	one := broadcastConst(s, 1)
	for i := 0; i < rows; i++ {
		for v := 0; v < w; v++ {
			VMULPS(eps, acc[i][v], acc[i][v])
			VADDPS(one, acc[i][v], acc[i][v])
		}
	}
	Label(plain)
	for i := 0; i < rows; i++ {
		for v := 0; v < w; v++ {
			m := rowAddr(ph, kpb, kpb3, i, v*s.bytes())
			VMULPS(m, acc[i][v], acc[i][v])
			VMOVUPS(acc[i][v], m)
		}
	}
}

// phaseC normalises every row of h: h ← h / (Σh + 1e-19).
func phaseC(s isa) {
	ph := Load(Param("ht"), GP64())
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	for i := 0; i < rows; i++ {
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

// zeroVecs clears vs without the xor idiom: avo's liveness analysis takes
// "VPXORD v, v, v" as a read of v, which would keep v live from the function
// entry and exhaust the registers. A broadcast zero is written, never read.
// rankOneLoop emits the loop both products of the iteration share: n times,
// load w vectors of a matrix row at mat (then advance mat by matStep bytes)
// and add them, times the next scalar of each of the tile's rows (row i's
// scalars start at vecs + i·stride and advance by 4 bytes), into that row's w
// accumulators, which it returns zeroed-then-summed.
func rankOneLoop(s isa, loop string, w int, mat, matStep, vecs, stride, stride3, n Register) [][]VecVirtual {
	acc := make([][]VecVirtual, rows)
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
	for i := 0; i < rows; i++ {
		if s.lanes == 16 {
			for v := 0; v < w; v++ {
				VFMADD231PS_BCST(rowAddr(vecs, stride, stride3, i, 0), mv[v], acc[i][v])
			}
		} else {
			b := s.vec()
			VBROADCASTSS(rowAddr(vecs, stride, stride3, i, 0), b)
			for v := 0; v < w; v++ {
				VFMADD231PS(b, mv[v], acc[i][v])
			}
		}
	}
	ADDQ(matStep, mat)
	ADDQ(U8(4), vecs)
	DECQ(n)
	JNE(LabelRef(loop))
	return acc
}

func zeroVecs(s isa, vs ...VecVirtual) {
	z := broadcastConst(s, 0)
	for _, v := range vs {
		VMOVAPS(z, v)
	}
}

// zeroGP sets r to 0 with a plain move, for the same reason as zeroVecs.
func zeroGP(r Register) { MOVQ(U32(0), r) }
