//go:build amd64 && !noasm && !purego

package kernels

import (
	"sync"
	"unsafe"
)

// Blocking of the assembly paths (BLIS loop order): a K slab of B up to NC
// columns wide is packed once (or read in place); for each block of A rows,
// every NR-column micro-panel of B meets the block's MR-row micro-panels in
// one kernel call. The A block is MC rows (L2) or, when the B slab fits in L2,
// as many rows as fit in L1 beside a B micro-panel.
const (
	gemmL2Floats = 128 << 10 // half of a 1 MiB L2
	gemmL1Floats = 6 << 10   // 24 KiB of a 32 KiB L1
	gemmKC       = 384       // measured best on Zen 4 among 128..384
	gemmMC       = 144       // a multiple of both tile heights (12 and 6)
	gemmNC       = 2048
)

// Packing is skipped where it cannot pay for itself. B is read in place when
// few row panels reuse it (its row stride is then the kernel's k step). A is
// read in place unless its stride is a multiple of 4 KiB: then the rows of a
// micro-panel (or, transposed, its successive k steps) all map to the same
// L1 sets and evict each other.
const (
	gemmPackBMinRows = 96
	gemmBadStride    = 1024
)

type gemmBuffers struct{ a, b []float32 }

// gemmFree holds packing buffers between calls. Unlike a sync.Pool it is never
// emptied by the garbage collector, so steady-state calls allocate nothing; it
// grows to the largest number of concurrent Sgemm calls seen.
var gemmFree struct {
	sync.Mutex
	bufs []*gemmBuffers
}

func getGemmBuffers() *gemmBuffers {
	gemmFree.Lock()
	defer gemmFree.Unlock()
	if n := len(gemmFree.bufs); n > 0 {
		b := gemmFree.bufs[n-1]
		gemmFree.bufs = gemmFree.bufs[:n-1]
		return b
	}
	return &gemmBuffers{a: make([]float32, gemmMC*gemmKC), b: make([]float32, gemmKC*gemmNC)}
}

func putGemmBuffers(b *gemmBuffers) {
	gemmFree.Lock()
	gemmFree.bufs = append(gemmFree.bufs, b)
	gemmFree.Unlock()
}

// gemmTiles describes one family of generated micro-kernels.
type gemmTiles struct {
	mr    int // tile rows
	lanes int // floats per vector
	nv    int // vectors per full tile row
	// run computes panels tiles of mr × nr, nr = (nv−1)·lanes + nLast, the
	// first at c, each next one mr rows further down C and aStep elements on
	// in A, all with the same B. B's last vector may be loaded whole (lanes
	// past nLast hold padding or the next columns, which only feed accumulator
	// lanes that are never stored) for the first bWhole of the k steps; the
	// rest need a masked load.
	run func(mr, nv, nLast, k int, a *float32, rsA, ksA int, b *float32, ksB, bWhole int, c *float32, ldc int, alpha, beta float32, loadC, panels, aStep int)
}

var tilesAVX512 = gemmTiles{mr: gemmMR512, lanes: 16, nv: gemmNV512,
	run: func(mr, nv, nLast, k int, a *float32, rsA, ksA int, b *float32, ksB, _ int, c *float32, ldc int, alpha, beta float32, loadC, panels, aStep int) {
		// Masked AVX-512 loads and stores are cheap: one kernel serves all.
		gemmKernels512[mr-1][nv-1](k, a, rsA, ksA, b, ksB, c, ldc, alpha, beta, loadC, panels, aStep, uint16(1)<<nLast-1)
	}}

// avx2LaneMasks[8-n:] enables the first n lanes of a ymm vector.
var avx2LaneMasks = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

var tilesAVX2 = gemmTiles{mr: gemmMR256, lanes: 8, nv: gemmNV256,
	run: func(mr, nv, nLast, k int, a *float32, rsA, ksA int, b *float32, ksB, bWhole int, c *float32, ldc int, alpha, beta float32, loadC, panels, aStep int) {
		mask := &avx2LaneMasks[8-nLast]
		if nLast == 8 {
			gemmKernels256[mr-1][nv-1](k, a, rsA, ksA, b, ksB, c, ldc, alpha, beta, loadC, panels, aStep, mask, nLast)
			return
		}
		// A masked load (VMASKMOVPS) in the inner loop is slow on AMD cores,
		// so the k steps whose whole-vector read stays inside B go first and
		// only the last row or so of B takes the masked kernel.
		if bWhole > 0 {
			gemmKernels256Edge[mr-1][nv-1](min(k, bWhole), a, rsA, ksA, b, ksB, c, ldc, alpha, beta, loadC, panels, aStep, mask, nLast)
			if bWhole >= k {
				return
			}
			a = (*float32)(unsafe.Add(unsafe.Pointer(a), 4*bWhole*ksA))
			b = (*float32)(unsafe.Add(unsafe.Pointer(b), 4*bWhole*ksB))
			k, beta, loadC = k-bWhole, 1, 1
		}
		gemmKernels256EdgeMask[mr-1][nv-1](k, a, rsA, ksA, b, ksB, c, ldc, alpha, beta, loadC, panels, aStep, mask, nLast)
	}}

func sgemmDispatch(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch activePath {
	case PathAVX512:
		sgemmBlocked(&tilesAVX512, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case PathAVX2:
		sgemmBlocked(&tilesAVX2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		sgemmGeneric(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// sgemmBlocked runs the micro-kernels of t over C (dimensions checked, m, n,
// k > 0). The first K slab applies the caller's beta, later slabs add.
func sgemmBlocked(t *gemmTiles, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nr := t.lanes * t.nv
	packB := transB || m >= gemmPackBMinRows || (ldb%gemmBadStride == 0 && m > t.mr)
	packA := lda%gemmBadStride == 0 && (!transA || n > nr)
	bufs := getGemmBuffers()
	defer putGemmBuffers(bufs)

	for jc := 0; jc < n; jc += gemmNC {
		ncb := min(gemmNC, n-jc)
		// Equal slabs of at most gemmKC: 800 = 3×267 rather than 384+384+32,
		// whose short last slab would pay the C update for little work.
		slabs := (k + gemmKC - 1) / gemmKC
		slab := (k + slabs - 1) / slabs
		for pc := 0; pc < k; pc += slab {
			kcb := min(slab, k-pc)
			betaBlock := beta
			if pc > 0 {
				betaBlock = 1
			}
			loadC := 0
			if betaBlock != 0 {
				loadC = 1
			}
			if packB {
				packPanelsB(bufs.b, transB, b, ldb, pc, jc, kcb, ncb, nr, t.lanes)
			}
			// When the packed B slab stays in L2, the A block is sized for L1,
			// so that every B micro-panel meets A rows that are already there.
			mc := gemmMC
			if packB && kcb*ncb <= gemmL2Floats {
				mc = min(gemmMC, max(t.mr, gemmL1Floats/kcb/t.mr*t.mr))
			}
			for ic := 0; ic < m; ic += mc {
				mcb := min(mc, m-ic)
				if packA {
					packPanelsA(bufs.a, transA, a, lda, ic, pc, mcb, kcb, t.mr)
				}
				full, rest := mcb/t.mr, mcb%t.mr
				for jr := 0; jr < ncb; jr += nr {
					nrb := min(nr, ncb-jr)
					nv := (nrb + t.lanes - 1) / t.lanes
					nLast := nrb - (nv-1)*t.lanes
					var bp *float32
					var ksB, bWhole int
					if packB {
						bp, ksB, bWhole = &bufs.b[jr*kcb], nv*t.lanes, kcb
					} else {
						off := pc*ldb + jc + jr
						bp, ksB = &b[off], ldb
						// Steps p whose whole last vector ends inside b.
						if room := len(b) - off - nv*t.lanes; room >= 0 {
							bWhole = min(kcb, room/ldb+1)
						}
					}
					// A micro-panel ir: pointer, strides, and the step to the next.
					aPanel := func(ir int) (ap *float32, rsA, ksA, aStep int) {
						switch {
						case packA:
							return &bufs.a[ir*kcb], 1, t.mr, t.mr * kcb
						case transA:
							return &a[pc*lda+ic+ir], 1, lda, t.mr
						default:
							return &a[(ic+ir)*lda+pc], lda, 1, t.mr * lda
						}
					}
					if full > 0 {
						ap, rsA, ksA, aStep := aPanel(0)
						t.run(t.mr, nv, nLast, kcb, ap, rsA, ksA, bp, ksB, bWhole, &c[ic*ldc+jc+jr], ldc, alpha, betaBlock, loadC, full, aStep)
					}
					if rest > 0 {
						ir := full * t.mr
						ap, rsA, ksA, aStep := aPanel(ir)
						if packA {
							ksA = rest // the last packed panel is rest rows tall
						}
						t.run(rest, nv, nLast, kcb, ap, rsA, ksA, bp, ksB, bWhole, &c[(ic+ir)*ldc+jc+jr], ldc, alpha, betaBlock, loadC, 1, aStep)
					}
				}
			}
		}
	}
}

// packPanelsA copies op(A)[i0:i0+mcb, p0:p0+kcb] into panels of mr rows (the
// last may be shorter): panel at ir·kcb, element (r, p) at p·rows + r.
func packPanelsA(dst []float32, transA bool, a []float32, lda, i0, p0, mcb, kcb, mr int) {
	for ir := 0; ir < mcb; ir += mr {
		rows := min(mr, mcb-ir)
		panel := dst[ir*kcb : ir*kcb+rows*kcb]
		if transA {
			for p := 0; p < kcb; p++ {
				src := a[(p0+p)*lda+i0+ir : (p0+p)*lda+i0+ir+rows]
				copy(panel[p*rows:p*rows+rows], src)
			}
			continue
		}
		transposeInto(panel, rows, a[(i0+ir)*lda+p0:], lda, rows, kcb)
	}
}

// transposeInto writes dst[p·ldd + r] = src[r·lds + p] for r < rows,
// p < cols: whole 8×8 blocks in assembly, the fringe in Go.
func transposeInto(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	src = src[:(rows-1)*lds+cols]
	dst = dst[:(cols-1)*ldd+rows]
	rows8, cols8 := rows/8*8, cols/8*8
	if rows8 > 0 && cols8 > 0 {
		gemmTranspose8(&dst[0], ldd, &src[0], lds, rows8/8, cols8/8)
	}
	for r := 0; r < rows; r++ {
		from := cols8
		if r >= rows8 {
			from = 0
		}
		for p, v := range src[r*lds+from : r*lds+cols] {
			dst[(from+p)*ldd+r] = v
		}
	}
}

// packPanelsB copies op(B)[p0:p0+kcb, j0:j0+ncb] into panels of nr columns:
// panel at jr·kcb, row p of it at p·width with width = nr rounded up to whole
// vectors for the last panel; the padding is zeroed.
func packPanelsB(dst []float32, transB bool, b []float32, ldb, p0, j0, kcb, ncb, nr, lanes int) {
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		width := (cols + lanes - 1) / lanes * lanes
		panel := dst[jr*kcb : jr*kcb+width*kcb]
		if transB {
			if cols < width {
				clear(panel)
			}
			transposeInto(panel, width, b[(j0+jr)*ldb+p0:], ldb, cols, kcb)
			continue
		}
		for p := 0; p < kcb; p++ {
			row := panel[p*width : p*width+width]
			copy(row, b[(p0+p)*ldb+j0+jr:(p0+p)*ldb+j0+jr+cols])
			clear(row[cols:])
		}
	}
}
