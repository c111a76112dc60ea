package main

// The fused approximate backward (spec §1.4) on one 8-row tile, AVX-512 only
// (the AVX2 and generic paths keep the GEMM formulation in package nnmf):
//
//	x:   8 × d     the layer's input rows, read in place (row stride d)
//	gx:  8 × d     out: gradX = r ⊙ (hg·W), written in place
//	at: 16 × kp    rows 0..7 hg = h⊙g, rows 8..15 h (padding zero)
//	bt: 16 × dp    out: rows 0..7 F = x⊙r, rows 8..15 F⊙gradX
//	wp:  k × dp    W, rows padded with zeros (the forward's packed layout)
//	gw: kp × dp    in/out: ∂L/∂W accumulator, += hgᵀF − hᵀ(F⊙gradX)
//
// The last vector of each x and gx row is loaded and stored under the lane
// mask "mask" (d mod 16 lanes, all 16 when d is a multiple of 16), so the
// rows need no padded copies and nothing past a row's end is touched.
//
// with r = 1/(h·W + 1e-20). Phase A walks d in blocks of up to 3 vectors:
// R = h·W and P = hg·W each through the forward's rank-one loop (every W
// vector feeds 8 rows), then F, gradX and F⊙gradX in registers. Phase W is a
// GEMM of depth 16 (the tile's 8 rows, twice) into gw, in blocks of 8 k-rows ×
// up to 3 vectors of d held in registers: each depth step loads 3 vectors of
// bt and broadcasts 8 scalars of at for 24 FMAs. The GEMM formulation it
// replaces made R, hg·W and F⊙gradX round-trip through memory as rows × D
// arrays in three separate passes.

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const approxSignature = "func(x, gx, at, bt, wp, gw *float32, k, kp, d, dp, mask int)"

func genApprox(s isa) {
	name := "nnmfApproxTile" + s.name
	TEXT(name, NOSPLIT, approxSignature)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs the fused approximate NNMF backward on a %d-row tile with %s.", name, s.rows, s.name))
	blockLoop(s, "XA", "dp", 3, approxChunk)

	// d-blocks outside, k-groups inside: the block's 16 rows of bt stay in
	// L1 for every k-group (layer 2's whole bt, 51 KB, would not).
	blockLoop(s, "XW", "dp", 3, func(s isa, off Register, w int) {
		kg := GP64() // byte offset of the k-group within an at row (4 bytes per k)
		zeroGP(kg)
		Label(label(s, "XW_kgroup", w))
		approxWBlock(s, kg, off, w)
		ADDQ(U8(4*s.rows), kg)
		kpb := Load(Param("kp"), GP64())
		SHLQ(U8(2), kpb)
		CMPQ(kg, kpb)
		JL(LabelRef(label(s, "XW_kgroup", w)))
	})
	VZEROUPPER()
	RET()
}

// approxChunk handles w vectors of d at byte offset c of every row: R and P
// by rank-one updates, then r = 1/(R + 1e-20), F = x·r, gradX = r·P and
// F·gradX, rounded in the order of the Go formulation (nnmf.(*Layer).approx).
func approxChunk(s isa, c Register, w int) {
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	dpb := Load(Param("dp"), GP64())
	SHLQ(U8(2), dpb)

	// R = h·W (h: rows 8..15 of at); r goes to F's slot until P is done.
	pw := Load(Param("wp"), GP64())
	ADDQ(c, pw)
	ph := Load(Param("at"), GP64())
	LEAQ(Mem{Base: ph, Index: kpb, Scale: 8}, ph)
	n := Load(Param("k"), GP64())
	acc := rankOneLoop(s, label(s, "XA_R", w), w, pw, dpb, newTileRows(s, ph, kpb), n)
	eps := broadcastConst(s, 1e-20)
	one := broadcastConst(s, 1)
	pb := Load(Param("bt"), GP64())
	ADDQ(c, pb)
	fr := newTileRows(s, pb, dpb)
	for i := 0; i < s.rows; i++ {
		for v := 0; v < w; v++ {
			VADDPS(eps, acc[i][v], acc[i][v])
			VDIVPS(acc[i][v], one, acc[i][v])
			VMOVUPS(acc[i][v], fr.addr(i, v*s.bytes()))
		}
	}

	// P = hg·W (hg: rows 0..7 of at).
	pw2 := Load(Param("wp"), GP64())
	ADDQ(c, pw2)
	pg := Load(Param("at"), GP64())
	n2 := Load(Param("k"), GP64())
	acc = rankOneLoop(s, label(s, "XA_P", w), w, pw2, dpb, newTileRows(s, pg, kpb), n2)

	// The lanes of this block's last vector that lie inside the row: all,
	// unless the block ends the padded row.
	km := K()
	m := GP64()
	MOVQ(U32(0xffff), m)
	end := GP64()
	LEAQ(Mem{Base: c, Disp: w * s.bytes()}, end)
	CMPQ(end, dpb)
	JNE(LabelRef(label(s, "XA_mask", w)))
	Load(Param("mask"), m)
	Label(label(s, "XA_mask", w))
	KMOVW(m.As32(), km)

	// Element offset c/4 in the unpadded rows of x and gx: c/4·4 = c bytes.
	ldb := Load(Param("d"), GP64())
	SHLQ(U8(2), ldb)
	px := Load(Param("x"), GP64())
	ADDQ(c, px)
	xr := newTileRows(s, px, ldb)
	pgx := Load(Param("gx"), GP64())
	ADDQ(c, pgx)
	gr := tileRows{base: pgx, stride: ldb, stride3: xr.stride3, base4: GP64()}
	LEAQ(Mem{Base: pgx, Index: ldb, Scale: 4}, gr.base4)
	pf := Load(Param("bt"), GP64())
	ADDQ(c, pf)
	fr = newTileRows(s, pf, dpb)
	pfg := GP64()
	LEAQ(Mem{Base: pf, Index: dpb, Scale: 8}, pfg)
	fgr := tileRows{base: pfg, stride: dpb, stride3: fr.stride3, base4: GP64()}
	LEAQ(Mem{Base: pfg, Index: dpb, Scale: 4}, fgr.base4)
	for i := 0; i < s.rows; i++ {
		for v := 0; v < w; v++ {
			disp := v * s.bytes()
			last := v == w-1
			r := s.vec()
			VMOVUPS(fr.addr(i, disp), r)
			f := s.vec()
			if last {
				VMOVUPS_Z(xr.addr(i, disp), km, f)
				VMULPS(r, f, f) // F = x·r
			} else {
				VMULPS(xr.addr(i, disp), r, f) // F = x·r
			}
			VMULPS(r, acc[i][v], acc[i][v]) // gradX = r·P
			if last {
				VMOVUPS(acc[i][v], km, gr.addr(i, disp))
			} else {
				VMOVUPS(acc[i][v], gr.addr(i, disp))
			}
			VMOVUPS(f, fr.addr(i, disp))
			VMULPS(acc[i][v], f, f) // F·gradX
			VMOVUPS(f, fgr.addr(i, disp))
		}
	}
}

// approxWBlock adds to the 8 k-rows of gw starting at k = kg/4, w vectors at
// byte offset off, the depth-16 product: Σ_i hg_i,k·F_i − h_i,k·(F⊙gradX)_i.
// The accumulators stay in registers for the whole depth.
func approxWBlock(s isa, kg, off Register, w int) {
	dp := Load(Param("dp"), GP64())
	row := GP64() // byte offset of row k = kg/4 of gw: k·dp·4 = kg·dp
	MOVQ(kg, row)
	IMULQ(dp, row)
	dpb := dp
	SHLQ(U8(2), dpb)
	pg := Load(Param("gw"), GP64())
	ADDQ(row, pg)
	ADDQ(off, pg)
	gr := newTileRows(s, pg, dpb)
	acc := make([][]VecVirtual, s.rows)
	for i := range acc {
		acc[i] = make([]VecVirtual, w)
		for v := range acc[i] {
			acc[i][v] = s.vec()
			VMOVUPS(gr.addr(i, v*s.bytes()), acc[i][v])
		}
	}
	pa := Load(Param("at"), GP64())
	ADDQ(kg, pa)
	pb := Load(Param("bt"), GP64())
	ADDQ(off, pb)
	kpb := Load(Param("kp"), GP64())
	SHLQ(U8(2), kpb)
	j := GP64()
	for _, sign := range []string{"plus", "minus"} {
		MOVQ(U32(s.rows), j)
		loop := label(s, "XW_", sign, w)
		Label(loop)
		b := make([]VecVirtual, w)
		for v := range b {
			b[v] = s.vec()
			VMOVUPS(Mem{Base: pb, Disp: v * s.bytes()}, b[v])
		}
		for kk := 0; kk < s.rows; kk++ {
			t := s.vec()
			VBROADCASTSS(Mem{Base: pa, Disp: 4 * kk}, t)
			for v := 0; v < w; v++ {
				if sign == "plus" {
					VFMADD231PS(t, b[v], acc[kk][v])
				} else {
					VFNMADD231PS(t, b[v], acc[kk][v])
				}
			}
		}
		ADDQ(kpb, pa)
		ADDQ(dpb, pb)
		DECQ(j)
		JNE(LabelRef(loop))
	}
	for i := range acc {
		for v := range acc[i] {
			VMOVUPS(acc[i][v], gr.addr(i, v*s.bytes()))
		}
	}
}
