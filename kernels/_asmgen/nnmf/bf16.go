package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The bf16 tile kernel (AVX-512 + AVX512_BF16): the same three phases as the
// float32 kernel on an 8-row tile, with both products done by VDPBF16PS on
// bf16 pairs and float32 accumulators:
//
//	H  hb ← bf16(h), 16 lanes at a time (VCVTNEPS2BF16, round to nearest even).
//	A  R = h·W over pairs of k: w2 holds ⌈K/2⌉ rows of dp dwords, dword d of
//	   row p being the bf16 pair (W[2p][d], W[2p+1][d]); a 32-bit broadcast of
//	   the pair (h_2p, h_2p+1) multiplies it. Then q = x / (R + 1e-20) in
//	   float32, stored only as bf16 into qb.
//	B  u = q·Wᵀ over pairs of d: wt2 holds ⌈D/2⌉ rows of kp dwords, dword k of
//	   row p being (W[k][2p], W[k][2p+1]), times the broadcast q pair; then
//	   h ← h·u (or h·(1 + ε·u)) in float32.
//	C  h ← h / (Σh + 1e-19), fused into B when kp ≤ 48 as in the float32 kernel.
//
// A pair's dword has the same size as a float32, so w2 and wt2 rows have the
// byte strides of the float32 layout (4·dp, 4·kp); a bf16 row of hb (qb) is
// 2·kp (2·dp) bytes. Odd K or D pad the last pair with a zero weight, and the
// padding lanes of h and q are zero, so no pair needs special handling.
//
// avo cannot see the operands of the BYTE-encoded instructions, so the kernel
// uses physical registers only: Z0-Z23 accumulators (8 rows × up to 3
// vectors), Z24-Z26 matrix vectors, Z27-Z31 broadcasts and temporaries; R14
// counts iterations, R13 is the block offset; BP and R15 are never touched.

const bf16Signature = "func(xt, ht *float32, hb, qb, w2, wt2 *uint32, k, d, kp, dp, iters, useEps int, eps float32)"

var zmms = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

var ymms = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15,
	Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y24, Y25, Y26, Y27, Y28, Y29, Y30, Y31}

const (
	bfRows = 8
	bfVec  = 64 // bytes of a zmm: 16 float32 or 16 bf16 pairs
	bfMat  = 24 // first matrix-vector register
)

// bf16Bcst selects how the rank-one loops feed each row's pair: false
// broadcasts it into a register once per row (VPBROADCASTD) and uses it in w
// register-register VDPBF16PS; true folds it into every VDPBF16PS as a
// {1to16} memory operand.
var bf16Bcst = false

func bfAcc(w, i, v int) int { return i*w + v }

// physRows sets up the row addressing of an 8-row tile in physical registers:
// row i at base + i·stride, rows 4-7 via base4.
func physRows(base, stride, stride3, base4 GPPhysical) tileRows {
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, stride3)
	LEAQ(Mem{Base: base, Index: stride, Scale: 4}, base4)
	return tileRows{base: base, base4: base4, stride: stride, stride3: stride3}
}

// broadcastConstZ puts the float32 c in every lane of z, through AX.
func broadcastConstZ(z VecPhysical, c float32) {
	MOVL(U32(math.Float32bits(c)), EAX)
	VPBROADCASTD(EAX, z)
}

func genBF16() {
	const name = "nnmfTileBF16AVX512"
	TEXT(name, NOSPLIT, bf16Signature)
	Pragma("noescape")
	Doc(name + " runs iters NNMF updates on an 8-row tile, both products in bf16 with float32 accumulation (AVX512_BF16).")

	Load(Param("iters"), R14)
	Label("BF_iter")
	bfPhaseH()
	bfBlockLoop("A", "dp", bfChunkA)

	Load(Param("kp"), RAX)
	CMPQ(RAX, U32(3*16))
	JA(LabelRef("BF_B_general"))
	for w := 1; w <= 3; w++ {
		CMPQ(RAX, U32(w*16))
		JE(LabelRef(label(isa{name: "BF"}, "_B_whole", w)))
	}
	JMP(LabelRef("BF_B_general"))
	for w := 1; w <= 3; w++ {
		Label(label(isa{name: "BF"}, "_B_whole", w))
		bfGroupB(w, true)
		JMP(LabelRef("BF_next"))
	}
	Label("BF_B_general")
	bfBlockLoop("B", "kp", func(w int) { bfGroupB(w, false) })
	bfPhaseC()
	Label("BF_next")
	DECQ(R14)
	JNE(LabelRef("BF_iter"))
	VZEROUPPER()
	RET()
}

// bfPhaseH rounds the tile's h (8 rows × kp float32, contiguous) to bf16 in
// hb (8 rows × kp bf16, contiguous), 16 lanes per step.
func bfPhaseH() {
	Load(Param("ht"), RAX)
	Load(Param("hb"), RBX)
	Load(Param("kp"), RCX)
	SHRQ(U8(1), RCX) // 8·kp/16 vectors
	Label("BF_H")
	VMOVUPS(Mem{Base: RAX}, Z0)
	emitEVEX(opVCVTNEPS2BF16, 1, 0, rmReg(Z0))
	VMOVDQU32(Y1, Mem{Base: RBX})
	ADDQ(U8(bfVec), RAX)
	ADDQ(U8(bfVec/2), RBX)
	DECQ(RCX)
	JNE(LabelRef("BF_H"))
}

// bfBlockLoop walks a padded row (dp or kp floats) in blocks of up to 3
// vectors, 4 vectors going as 2 + 2, with the block offset in bytes in R13.
func bfBlockLoop(phase, size string, body func(w int)) {
	loop := "BF_" + phase + "_loop"
	done := "BF_" + phase + "_done"
	block := func(w int) string { return label(isa{name: "BF_"}, phase, "_block", w) }
	MOVQ(U32(0), R13)
	Label(loop)
	Load(Param(size), RAX)
	SHLQ(U8(2), RAX)
	SUBQ(R13, RAX)
	JE(LabelRef(done))
	CMPQ(RAX, U32(4*bfVec))
	JE(LabelRef(block(2)))
	CMPQ(RAX, U32(3*bfVec))
	JAE(LabelRef(block(3)))
	CMPQ(RAX, U32(2*bfVec))
	JE(LabelRef(block(2)))
	JMP(LabelRef(block(1)))
	for w := 3; w >= 1; w-- {
		Label(block(w))
		body(w)
		ADDQ(U32(w*bfVec), R13)
		JMP(LabelRef(loop))
	}
	Label(done)
}

// bfRankOne emits the pair loop of both products: n times, load w vectors of
// pairs at mat (then advance it by matStep) and add their dot products with
// each row's next pair (at rows.addr(i, 0), advancing by 4 bytes) into the
// row's w accumulators Z(bfAcc(w, i, v)), zeroed first.
func bfRankOne(loop string, w int, mat, matStep GPPhysical, rows tileRows, n GPPhysical) {
	for i := 0; i < bfRows; i++ {
		for v := 0; v < w; v++ {
			a := zmms[bfAcc(w, i, v)]
			VPXORD(a, a, a)
		}
	}
	Label(loop)
	for v := 0; v < w; v++ {
		VMOVUPS(Mem{Base: mat, Disp: v * bfVec}, zmms[bfMat+v])
	}
	for i := 0; i < bfRows; i++ {
		if bf16Bcst {
			for v := 0; v < w; v++ {
				emitEVEX(opVDPBF16PS, bfAcc(w, i, v), bfMat+v, rmMem(rows.addr(i, 0), true))
			}
			continue
		}
		b := 27 + i%2 // two broadcast registers, alternating
		VPBROADCASTD(rows.addr(i, 0), zmms[b])
		for v := 0; v < w; v++ {
			emitEVEX(opVDPBF16PS, bfAcc(w, i, v), bfMat+v, rmReg(zmms[b]))
		}
	}
	ADDQ(matStep, mat)
	rows.advance(4)
	DECQ(n)
	JNE(LabelRef(loop))
}

// bfChunkA computes w vectors of R = h·W at byte offset R13 of every float
// row, then q = x / (R + 1e-20) in float32, stored as bf16 in qb.
func bfChunkA(w int) {
	Load(Param("w2"), R8)
	ADDQ(R13, R8)
	Load(Param("dp"), R9)
	SHLQ(U8(2), R9) // w2 row stride: dp dwords
	Load(Param("hb"), R10)
	Load(Param("kp"), R11)
	SHLQ(U8(1), R11) // hb row stride: kp bf16
	hr := physRows(R10, R11, R12, RSI)
	Load(Param("k"), RCX)
	INCQ(RCX)
	SHRQ(U8(1), RCX) // ⌈K/2⌉ pairs
	bfRankOne(label(isa{name: "BF"}, "_A_k", w), w, R8, R9, hr, RCX)

	broadcastConstZ(Z29, 1e-20)
	Load(Param("xt"), R10)
	ADDQ(R13, R10)
	xr := physRows(R10, R9, R12, RSI) // x rows: dp floats
	Load(Param("qb"), RDI)
	MOVQ(R13, RAX)
	SHRQ(U8(1), RAX) // bf16 offset = float offset / 2
	ADDQ(RAX, RDI)
	MOVQ(R9, R11)
	SHRQ(U8(1), R11) // qb row stride: dp bf16
	qr := physRows(RDI, R11, RBX, RDX)
	for i := 0; i < bfRows; i++ {
		for v := 0; v < w; v++ {
			a := bfAcc(w, i, v)
			x := zmms[bfMat+(i*w+v)%3]
			VADDPS(Z29, zmms[a], zmms[a])
			VMOVUPS(xr.addr(i, v*bfVec), x)
			VDIVPS(zmms[a], x, x)
			// The accumulator is dead now: it takes the rounded q.
			emitEVEX(opVCVTNEPS2BF16, a, physIndex(x), rmReg(x))
			VMOVDQU32(ymms[a], qr.addr(i, v*bfVec/2))
		}
	}
}

// bfGroupB computes w vectors of u = q·Wᵀ at byte offset R13 of every h row
// (offset 0 and the whole row when whole) and updates h; a whole row is also
// normalised.
func bfGroupB(w int, whole bool) {
	Load(Param("wt2"), R8)
	if !whole {
		ADDQ(R13, R8)
	}
	Load(Param("kp"), R9)
	SHLQ(U8(2), R9) // wt2 row stride: kp dwords
	Load(Param("qb"), R10)
	Load(Param("dp"), R11)
	SHLQ(U8(1), R11) // qb row stride: dp bf16
	qr := physRows(R10, R11, R12, RSI)
	Load(Param("d"), RCX)
	INCQ(RCX)
	SHRQ(U8(1), RCX) // ⌈D/2⌉ pairs
	loop := label(isa{name: "BF"}, "_B_d", w)
	plain := label(isa{name: "BF"}, "_B_plain", w)
	if whole {
		loop = label(isa{name: "BF"}, "_B_whole_d", w)
		plain = label(isa{name: "BF"}, "_B_whole_plain", w)
	}
	bfRankOne(loop, w, R8, R9, qr, RCX)

	Load(Param("ht"), R10)
	if !whole {
		ADDQ(R13, R10)
	}
	hr := physRows(R10, R9, R12, RSI)
	Load(Param("useEps"), RAX)
	TESTQ(RAX, RAX)
	JE(LabelRef(plain))
	VBROADCASTSS(paramMem("eps"), Z29)
	broadcastConstZ(Z30, 1)
	for i := 0; i < bfRows; i++ {
		for v := 0; v < w; v++ {
			a := zmms[bfAcc(w, i, v)]
			VMULPS(Z29, a, a)
			VADDPS(Z30, a, a)
		}
	}
	Label(plain)
	for i := 0; i < bfRows; i++ {
		for v := 0; v < w; v++ {
			a := zmms[bfAcc(w, i, v)]
			m := hr.addr(i, v*bfVec)
			VMULPS(m, a, a)
			if !whole {
				VMOVUPS(a, m)
			}
		}
	}
	if !whole {
		return
	}
	broadcastConstZ(Z29, 1e-19)
	for i := 0; i < bfRows; i++ {
		sum := Z30
		VMOVAPS(zmms[bfAcc(w, i, 0)], sum)
		for v := 1; v < w; v++ {
			VADDPS(zmms[bfAcc(w, i, v)], sum, sum)
		}
		bfAllLanesSum(sum, Z31)
		VADDPS(Z29, sum, sum)
		for v := 0; v < w; v++ {
			a := zmms[bfAcc(w, i, v)]
			VDIVPS(sum, a, a)
			VMOVUPS(a, hr.addr(i, v*bfVec))
		}
	}
}

// bfAllLanesSum is allLanesSum on physical registers.
func bfAllLanesSum(v, t VecPhysical) {
	VSHUFF32X4(U8(0x4e), v, v, t)
	VADDPS(t, v, v)
	VSHUFF32X4(U8(0xb1), v, v, t)
	VADDPS(t, v, v)
	VPERMILPS(U8(0x4e), v, t)
	VADDPS(t, v, v)
	VPERMILPS(U8(0xb1), v, t)
	VADDPS(t, v, v)
}

// bfPhaseC normalises every row of h (kp > 48).
func bfPhaseC() {
	Load(Param("kp"), RBX)
	SHLQ(U8(2), RBX)
	broadcastConstZ(Z2, 1e-19) // through AX, so before ht is loaded there
	Load(Param("ht"), RAX)
	for i := 0; i < bfRows; i++ {
		VPXORD(Z0, Z0, Z0)
		MOVQ(U32(0), RCX)
		sum := label(isa{name: "BF"}, "_C_sum", i)
		Label(sum)
		VADDPS(Mem{Base: RAX, Index: RCX, Scale: 1}, Z0, Z0)
		ADDQ(U32(bfVec), RCX)
		CMPQ(RCX, RBX)
		JL(LabelRef(sum))
		bfAllLanesSum(Z0, Z1)
		VADDPS(Z2, Z0, Z0)
		MOVQ(U32(0), RCX)
		div := label(isa{name: "BF"}, "_C_div", i)
		Label(div)
		VMOVUPS(Mem{Base: RAX, Index: RCX, Scale: 1}, Z3)
		VDIVPS(Z0, Z3, Z3)
		VMOVUPS(Z3, Mem{Base: RAX, Index: RCX, Scale: 1})
		ADDQ(U32(bfVec), RCX)
		CMPQ(RCX, RBX)
		JL(LabelRef(div))
		ADDQ(RBX, RAX)
	}
}
