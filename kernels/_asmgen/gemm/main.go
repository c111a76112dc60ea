// Command gemm generates the GEMM micro-kernels of package kernels with avo:
//
//	go run . -out ../../gemm_asm_amd64.s -stubs ../../gemm_asm_stubs_amd64.go -pkg kernels -tables ../../gemm_asm_tables_amd64.go
//
// (the go:generate line in kernels/gemm.go). It also writes the dispatch
// tables (gemm_asm_tables_amd64.go), so the Go side never names a kernel, and
// an 8×8-block transpose used to pack transposed operands.
//
// A kernel call computes `panels` tiles C[0:mr, 0:nr] of C = alpha·A·B + beta·C
// stacked down C (A moving aStep elements per tile, B shared), each over k
// steps, with A and B read through strides so that the same kernel serves
// packed and unpacked operands:
//
//	A(r, p) at a + r·rsA + p·ksA   (elements)
//	B(p, j) at b + p·ksB + j       (row p of B holds the tile's nr columns contiguously)
//
// The tile's columns are nv vectors and the last may be partial: AVX-512
// masks it; AVX2 has edge variants (see genAVX2). B beyond nr is never read
// through a mask, C beyond nr never written. loadC == 0 means beta == 0: C is
// then only written, so NaNs in the old C do not propagate.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Tile shapes. AVX-512: up to 12 rows × 2 zmm (32 columns): 24 accumulators
// + 2 B vectors of the 32 zmm registers, the A value folded into the FMA as an
// embedded broadcast. AVX2: 6 rows × 2 ymm (16 columns): 12 accumulators, 2 B
// vectors, 1 broadcast and 1 mask of the 16 ymm registers.
const (
	mr512, nv512 = 12, 2
	mr256, nv256 = 6, 2
)

var tables = flag.String("tables", "../../gemm_asm_tables_amd64.go", "output file for the Go dispatch tables")

func main() {
	ConstraintExpr("amd64,!noasm,!purego")
	for mr := 1; mr <= mr512; mr++ {
		for nv := 1; nv <= nv512; nv++ {
			genAVX512(mr, nv)
		}
	}
	for mr := 1; mr <= mr256; mr++ {
		for nv := 1; nv <= nv256; nv++ {
			for variant := avx2Full; variant <= avx2EdgeMask; variant++ {
				genAVX2(mr, nv, variant)
			}
		}
	}
	genTranspose8()
	Generate()
	if err := writeTables(*tables); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const (
	signature512 = "func(k int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, loadC, panels, aStep int, mask uint16)"
	signature256 = "func(k int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, loadC, panels, aStep int, mask *int32, nLast int)"
)

// aRows copies the A pointer a, loads the strides and returns a function giving the
// memory operand of row r at the current k, and a function that advances all
// row pointers by one k step. Rows are addressed as base(r/3) + (r%3)·rsA so
// that at most ⌈mr/3⌉ pointers move per step.
func aRows(mr int, a Register) (row func(r int) Mem, step func()) {
	rs := Load(Param("rsA"), GP64())
	SHLQ(U8(2), rs)
	ks := Load(Param("ksA"), GP64())
	SHLQ(U8(2), ks)
	groups := (mr + 2) / 3
	bases := make([]Register, groups)
	bases[0] = GP64()
	MOVQ(a, bases[0])
	if groups > 1 {
		rs3 := GP64()
		LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
		for g := 1; g < groups; g++ {
			bases[g] = GP64()
			LEAQ(Mem{Base: bases[g-1], Index: rs3, Scale: 1}, bases[g])
		}
	}
	row = func(r int) Mem {
		m := Mem{Base: bases[r/3]}
		if r%3 != 0 {
			m.Index, m.Scale = rs, uint8(r%3)
		}
		return m
	}
	step = func() {
		for _, b := range bases {
			ADDQ(ks, b)
		}
	}
	return row, step
}

// paramMem is the stack address of a scalar argument, so that it can be
// broadcast straight into a vector register (also into Z16-Z31, which the SSE
// MOVSS that Load would emit cannot reach).
func paramMem(name string) Mem {
	basic, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return basic.Addr
}

// panelLoop opens the loop over the panels of a call: consecutive mr-row
// tiles, A advancing by aStep elements and C by mr rows per panel, B shared.
// Calling once per panel through Go would cost about as much as the C update
// of a short-K tile.
func panelLoop() (aCur, cCur, panels Register) {
	aCur = Load(Param("a"), GP64())
	cCur = Load(Param("c"), GP64())
	panels = Load(Param("panels"), GP64())
	Label("panel")
	return aCur, cCur, panels
}

// panelNext closes the panel loop; cp points at row mr of the finished tile.
func panelNext(aCur, cCur, panels, cp Register) {
	step := Load(Param("aStep"), GP64())
	SHLQ(U8(2), step)
	ADDQ(step, aCur)
	MOVQ(cp, cCur)
	DECQ(panels)
	JNE(LabelRef("panel"))
}

// scaleByAlpha multiplies the accumulators by alpha unless alpha is exactly 1.
func scaleByAlpha(acc [][]VecVirtual, alpha VecVirtual) {
	bits := GP32()
	MOVL(paramMem("alpha"), bits)
	CMPL(bits, U32(0x3f800000))
	JE(LabelRef("scaled"))
	VBROADCASTSS(paramMem("alpha"), alpha)
	for r := range acc {
		for v := range acc[r] {
			VMULPS(alpha, acc[r][v], acc[r][v])
		}
	}
	Label("scaled")
}

func kernelName(isa string, mr, nv int) string {
	return fmt.Sprintf("gemm%s_%dx%d", isa, mr, nv)
}

func genAVX512(mr, nv int) {
	const lanes = 16
	TEXT(kernelName("AVX512", mr, nv), NOSPLIT, signature512)
	// The kernels only read and write through their pointers during the
	// call, so the slices they point into need not escape to the heap.
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes panels %d×%d C tiles with AVX-512 (last vector masked by mask).", kernelName("AVX512", mr, nv), mr, nv*lanes))
	maskGP := Load(Param("mask"), GP32())
	KMOVW(maskGP, K1)
	aCur, cCur, panels := panelLoop()

	acc := make([][]VecVirtual, mr)
	for r := range acc {
		acc[r] = make([]VecVirtual, nv)
		for v := range acc[r] {
			acc[r][v] = ZMM()
			VPXORD(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	row, stepA := aRows(mr, aCur)
	bp := Load(Param("b"), GP64())
	ksB := Load(Param("ksB"), GP64())
	SHLQ(U8(2), ksB)
	k := Load(Param("k"), GP64())

	TESTQ(k, k)
	JE(LabelRef("epilogue"))
	Label("loop")
	bv := make([]VecVirtual, nv)
	for v := range bv {
		bv[v] = ZMM()
		m := Mem{Base: bp, Disp: 64 * v}
		if v == nv-1 {
			VMOVUPS_Z(m, K1, bv[v])
		} else {
			VMOVUPS(m, bv[v])
		}
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VFMADD231PS_BCST(row(r), bv[v], acc[r][v])
		}
	}
	ADDQ(ksB, bp)
	stepA()
	DECQ(k)
	JNE(LabelRef("loop"))

	Label("epilogue")
	scaleByAlpha(acc, ZMM())
	cp := GP64()
	MOVQ(cCur, cp)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	loadC := Load(Param("loadC"), GP64())
	TESTQ(loadC, loadC)
	JE(LabelRef("store"))
	beta := ZMM()
	VBROADCASTSS(paramMem("beta"), beta)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			m := Mem{Base: cp, Disp: 64 * v}
			if v == nv-1 {
				t := ZMM()
				VMOVUPS_Z(m, K1, t)
				VFMADD231PS(t, beta, acc[r][v])
			} else {
				VFMADD231PS(m, beta, acc[r][v])
			}
		}
		ADDQ(ldc, cp)
	}
	MOVQ(cCur, cp)
	Label("store")
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			m := Mem{Base: cp, Disp: 64 * v}
			if v == nv-1 {
				VMOVUPS(acc[r][v], K1, m)
			} else {
				VMOVUPS(acc[r][v], m)
			}
		}
		ADDQ(ldc, cp)
	}
	panelNext(aCur, cCur, panels, cp)
	VZEROUPPER()
	RET()
}

// genTranspose8 writes an 8×8-block transpose used to pack transposed
// operands: dst[p·ldd + j] = src[j·lds + p] for j < 8·jBlocks, p < 8·pBlocks
// (strides in elements). Each block is eight 8-float loads, the classic
// unpack/shuffle/permute network and eight 8-float stores: AVX only, so both
// assembly paths use it. (AVX-512 gathers were tried: slower on Zen 4 than
// scalar Go.)
func genTranspose8() {
	TEXT("gemmTranspose8", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, jBlocks, pBlocks int)")
	// The kernels only read and write through their pointers during the
	// call, so the slices they point into need not escape to the heap.
	Pragma("noescape")
	Doc("gemmTranspose8 transposes 8×8 blocks (see the generator).")
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), ldd)
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	jb := Load(Param("jBlocks"), GP64())
	TESTQ(jb, jb)
	JE(LabelRef("done"))
	dstRow := Load(Param("dst"), GP64()) // dst column block j: dst + 32·j bytes
	srcRow := Load(Param("src"), GP64()) // src row block j: src + 8·j·lds
	lds3 := GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	ldd3 := GP64()
	LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)

	Label("jloop")
	pb := Load(Param("pBlocks"), GP64())
	s0, d0 := GP64(), GP64()
	MOVQ(srcRow, s0)
	MOVQ(dstRow, d0)
	TESTQ(pb, pb)
	JE(LabelRef("jnext"))
	Label("ploop")
	s4, d4 := GP64(), GP64()
	LEAQ(Mem{Base: s0, Index: lds, Scale: 4}, s4)
	LEAQ(Mem{Base: d0, Index: ldd, Scale: 4}, d4)
	r := make([]VecVirtual, 8)
	for i := range r {
		r[i] = YMM()
	}
	srcRows := []Mem{
		{Base: s0}, {Base: s0, Index: lds, Scale: 1}, {Base: s0, Index: lds, Scale: 2}, {Base: s0, Index: lds3, Scale: 1},
		{Base: s4}, {Base: s4, Index: lds, Scale: 1}, {Base: s4, Index: lds, Scale: 2}, {Base: s4, Index: lds3, Scale: 1},
	}
	for i := range r {
		VMOVUPS(srcRows[i], r[i])
	}
	t := make([]VecVirtual, 8)
	for i := range t {
		t[i] = YMM()
	}
	for i := 0; i < 8; i += 2 {
		VUNPCKLPS(r[i+1], r[i], t[i])
		VUNPCKHPS(r[i+1], r[i], t[i+1])
	}
	u := make([]VecVirtual, 8)
	for i := range u {
		u[i] = YMM()
	}
	// u0..u3 from rows 0-3, u4..u7 from rows 4-7: lanes 0,1,2,3 of each 128-bit half.
	VSHUFPS(U8(0x44), t[2], t[0], u[0])
	VSHUFPS(U8(0xEE), t[2], t[0], u[1])
	VSHUFPS(U8(0x44), t[3], t[1], u[2])
	VSHUFPS(U8(0xEE), t[3], t[1], u[3])
	VSHUFPS(U8(0x44), t[6], t[4], u[4])
	VSHUFPS(U8(0xEE), t[6], t[4], u[5])
	VSHUFPS(U8(0x44), t[7], t[5], u[6])
	VSHUFPS(U8(0xEE), t[7], t[5], u[7])
	dstRows := []Mem{
		{Base: d0}, {Base: d0, Index: ldd, Scale: 1}, {Base: d0, Index: ldd, Scale: 2}, {Base: d0, Index: ldd3, Scale: 1},
		{Base: d4}, {Base: d4, Index: ldd, Scale: 1}, {Base: d4, Index: ldd, Scale: 2}, {Base: d4, Index: ldd3, Scale: 1},
	}
	for i := 0; i < 4; i++ {
		o := YMM()
		VPERM2F128(U8(0x20), u[i+4], u[i], o)
		VMOVUPS(o, dstRows[i])
		o2 := YMM()
		VPERM2F128(U8(0x31), u[i+4], u[i], o2)
		VMOVUPS(o2, dstRows[i+4])
	}
	ADDQ(U8(32), s0)
	LEAQ(Mem{Base: d4, Index: ldd, Scale: 4}, d0)
	DECQ(pb)
	JNE(LabelRef("ploop"))
	Label("jnext")
	LEAQ(Mem{Base: srcRow, Index: lds, Scale: 8}, srcRow)
	ADDQ(U8(32), dstRow)
	DECQ(jb)
	JNE(LabelRef("jloop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// AVX2 kernel variants for the last vector of a tile row.
const (
	avx2Full     = iota // all nv vectors full
	avx2Edge            // last vector partial: C masked, B zero-padded (packed)
	avx2EdgeMask        // last vector partial: C masked, B read in place with a mask
)

var avx2Suffix = [...]string{"", "_edge", "_edgemask"}

// genAVX2 writes the AVX2+FMA kernel. In the edge variants the first nLast
// lanes of the last vector are valid: C is read there with VMASKMOVPS (a fast
// masked load) but written with plain 16-, 8- and 4-byte stores, because
// VMASKMOVPS stores are slow on AMD cores.
func genAVX2(mr, nv, variant int) {
	const lanes = 8
	name := kernelName("AVX2", mr, nv) + avx2Suffix[variant]
	TEXT(name, NOSPLIT, signature256)
	// The kernels only read and write through their pointers during the
	// call, so the slices they point into need not escape to the heap.
	Pragma("noescape")
	switch variant {
	case avx2Full:
		Doc(fmt.Sprintf("%s computes a %d×%d C tile with AVX2+FMA (mask and nLast unused).", name, mr, nv*lanes))
	case avx2Edge:
		Doc(fmt.Sprintf("%s computes a %d×%d C tile with AVX2+FMA whose last vector holds nLast < 8 valid columns; B is zero-padded.", name, mr, nv*lanes))
	case avx2EdgeMask:
		Doc(fmt.Sprintf("%s computes a %d×%d C tile with AVX2+FMA whose last vector holds nLast < 8 valid columns; B is read through mask.", name, mr, nv*lanes))
	}
	edge := variant != avx2Full
	var mask VecVirtual
	if edge {
		mask = YMM()
		VMOVDQU(Mem{Base: Load(Param("mask"), GP64())}, mask)
	}
	aCur, cCur, panels := panelLoop()
	acc := make([][]VecVirtual, mr)
	for r := range acc {
		acc[r] = make([]VecVirtual, nv)
		for v := range acc[r] {
			acc[r][v] = YMM()
			VXORPS(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	row, stepA := aRows(mr, aCur)
	bp := Load(Param("b"), GP64())
	ksB := Load(Param("ksB"), GP64())
	SHLQ(U8(2), ksB)
	k := Load(Param("k"), GP64())

	TESTQ(k, k)
	JE(LabelRef("epilogue"))
	Label("loop")
	bv := make([]VecVirtual, nv)
	for v := range bv {
		bv[v] = YMM()
		m := Mem{Base: bp, Disp: 32 * v}
		if variant == avx2EdgeMask && v == nv-1 {
			VMASKMOVPS(m, mask, bv[v])
		} else {
			VMOVUPS(m, bv[v])
		}
	}
	for r := 0; r < mr; r++ {
		t := YMM()
		VBROADCASTSS(row(r), t)
		for v := 0; v < nv; v++ {
			VFMADD231PS(t, bv[v], acc[r][v])
		}
	}
	ADDQ(ksB, bp)
	stepA()
	DECQ(k)
	JNE(LabelRef("loop"))

	Label("epilogue")
	scaleByAlpha(acc, YMM())
	cp := GP64()
	MOVQ(cCur, cp)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	loadC := Load(Param("loadC"), GP64())
	TESTQ(loadC, loadC)
	JE(LabelRef("store"))
	beta := YMM()
	VBROADCASTSS(paramMem("beta"), beta)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			m := Mem{Base: cp, Disp: 32 * v}
			if edge && v == nv-1 {
				t := YMM()
				VMASKMOVPS(m, mask, t)
				VFMADD231PS(t, beta, acc[r][v])
			} else {
				VFMADD231PS(m, beta, acc[r][v])
			}
		}
		ADDQ(ldc, cp)
	}
	MOVQ(cCur, cp)
	Label("store")
	var nLast Register
	if edge {
		nLast = Load(Param("nLast"), GP64())
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			m := Mem{Base: cp, Disp: 32 * v}
			if !edge || v < nv-1 {
				VMOVUPS(acc[r][v], m)
				continue
			}
			// The first nLast (1..7) lanes: 4, then 2, then 1 at a time,
			// shifting the remaining lanes down into the low xmm.
			dp, rem := GP64(), GP64()
			x := acc[r][v].AsX()
			LEAQ(m, dp)
			MOVQ(nLast, rem)
			l2, l1, done := fmt.Sprintf("r%d_two", r), fmt.Sprintf("r%d_one", r), fmt.Sprintf("r%d_done", r)
			CMPQ(rem, U8(4))
			JL(LabelRef(l2))
			VMOVUPS(x, Mem{Base: dp})
			VEXTRACTF128(U8(1), acc[r][v], x)
			ADDQ(U8(16), dp)
			SUBQ(U8(4), rem)
			Label(l2)
			CMPQ(rem, U8(2))
			JL(LabelRef(l1))
			VMOVSD(x, Mem{Base: dp})
			VMOVHLPS(x, x, x)
			ADDQ(U8(8), dp)
			SUBQ(U8(2), rem)
			Label(l1)
			TESTQ(rem, rem)
			JE(LabelRef(done))
			VMOVSS(x, Mem{Base: dp})
			Label(done)
		}
		ADDQ(ldc, cp)
	}
	panelNext(aCur, cCur, panels, cp)
	VZEROUPPER()
	RET()
}

func writeTables(path string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by kernels/_asmgen/gemm. DO NOT EDIT.\n\n//go:build amd64 && !noasm && !purego\n\npackage kernels\n\n")
	fmt.Fprintf(&b, "// Tile limits of the generated kernels.\nconst (\n\tgemmMR512 = %d\n\tgemmNV512 = %d\n\tgemmMR256 = %d\n\tgemmNV256 = %d\n)\n\n", mr512, nv512, mr256, nv256)
	fmt.Fprintf(&b, "type gemmKernel512 = %s\n\n", signature512)
	fmt.Fprintf(&b, "type gemmKernel256 = %s\n\n", signature256)
	table := func(varName, typ, isa, suffix string, mr, nv int) {
		fmt.Fprintf(&b, "// %s[mr-1][nv-1] computes an mr-row tile of nv vectors.\nvar %s = [%d][%d]%s{\n", varName, varName, mr, nv, typ)
		for r := 1; r <= mr; r++ {
			b.WriteString("\t{")
			for v := 1; v <= nv; v++ {
				fmt.Fprintf(&b, "%s%s, ", kernelName(isa, r, v), suffix)
			}
			b.WriteString("},\n")
		}
		b.WriteString("}\n\n")
	}
	table("gemmKernels512", "gemmKernel512", "AVX512", "", mr512, nv512)
	table("gemmKernels256", "gemmKernel256", "AVX2", avx2Suffix[avx2Full], mr256, nv256)
	table("gemmKernels256Edge", "gemmKernel256", "AVX2", avx2Suffix[avx2Edge], mr256, nv256)
	table("gemmKernels256EdgeMask", "gemmKernel256", "AVX2", avx2Suffix[avx2EdgeMask], mr256, nv256)
	src, err := format.Source(b.Bytes())
	if err != nil {
		return fmt.Errorf("gemm generator: formatting tables: %w", err)
	}
	return os.WriteFile(path, src, 0o644)
}
