package kernels

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// The opt-in bf16 NNMF forward. Both products of an update (R = h·W and
// u = q·Wᵀ) take bf16 operands and accumulate in float32 (VDPBF16PS on
// AVX512_BF16); h, q = x/(R + 1e-20), x, the division and the normalisation
// stay float32. h and q are rounded to bf16 (to nearest even) only as operands
// of the products, and W once per pack.
//
// Packed layout (NNMFPackBF16), in dwords, each a pair of bf16 (the lower
// half the even index): W2 with ⌈K/2⌉ rows of Dp dwords, dword d of row p
// holding (W[2p][d], W[2p+1][d]), for R with lanes over d; then Wt2 with ⌈D/2⌉
// rows of Kp dwords, dword k of row p holding (W[k][2p], W[k][2p+1]), for u
// with lanes over k. An odd K or D pads its last pair with a zero weight.

// Precision is the arithmetic of the NNMF forward iterations.
type Precision int

const (
	Float32 Precision = iota // float32 operands and accumulation (the default)
	BF16                     // bf16 operands of both products, float32 accumulation
)

func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision maps "float32" or "bf16" (any case) to the Precision.
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float32", "fp32", "f32":
		return Float32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return Float32, fmt.Errorf("unknown precision %q (want float32 or bf16)", s)
}

// MarshalText writes the precision's name, so that JSON files hold "bf16".
func (p Precision) MarshalText() ([]byte, error) {
	if p != Float32 && p != BF16 {
		return nil, fmt.Errorf("invalid precision %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads a name accepted by ParsePrecision.
func (p *Precision) UnmarshalText(b []byte) error {
	v, err := ParsePrecision(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// BF16Active reports whether the bf16 NNMF kernel runs in assembly: the CPU
// has AVX512_BF16, the build has the assembly, and the active path
// (DEEPNMF_CPU, ForcePath) is AVX-512.
func BF16Active() bool { return BF16Supported() && ActivePath() == PathAVX512 }

// EffectivePrecision is the precision a request for p runs in: bf16 only
// where BF16Active, float32 otherwise (bf16 emulated in Go would be far
// slower than the float32 kernels, which defeats its purpose).
func EffectivePrecision(p Precision) Precision {
	if p == BF16 && BF16Active() {
		return BF16
	}
	return Float32
}

// BF16Unavailable explains why a bf16 request runs in float32 ("" when it
// does not), for the one notice a command prints.
func BF16Unavailable() string {
	switch {
	case BF16Active():
		return ""
	case !BF16Supported() && SupportedPath() == PathAVX512:
		return "this CPU has no AVX512_BF16"
	case !BF16Supported():
		return fmt.Sprintf("this CPU or build has no AVX512_BF16 assembly path (best path %s)", SupportedPath())
	}
	return fmt.Sprintf("the kernels run on the %s path (%s)", ActivePath(), CPUEnvVar)
}

// NNMFPackedLenBF16 is the length in dwords of the buffer NNMFPackBF16 fills.
func NNMFPackedLenBF16(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return (k+1)/2*dp + (d+1)/2*kp
}

// NNMFScratchLenBF16 is the length of the scratch buffer NNMFIterateBF16
// needs: the float32 x and h tiles and the bf16 h and q tiles.
func NNMFScratchLenBF16(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return NNMFTileRows * (dp + kp + (kp+dp)/2)
}

// bf16Round rounds f to bf16 as VCVTNEPS2BF16 does: to nearest even, zero
// and denormal inputs to a zero of the same sign, NaN to a quiet NaN.
func bf16Round(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0:
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000:
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// bf16Float widens a bf16 to float32, a denormal to zero (VDPBF16PS treats
// denormal inputs as zero).
func bf16Float(h uint16) float32 {
	if h&0x7f80 == 0 {
		h &= 0x8000
	}
	return math.Float32frombits(uint32(h) << 16)
}

func bf16Pair(lo, hi float32) uint32 { return uint32(bf16Round(lo)) | uint32(bf16Round(hi))<<16 }

// NNMFPackBF16 writes the bf16 packed layout of the normalised weight w
// (K×D, row-major) into packed (length NNMFPackedLenBF16). Each weight is
// rounded once, into W2; Wt2 takes the rounded halves from W2.
func NNMFPackBF16(w []float32, k, d int, packed []uint32) {
	kp, dp := NNMFPadded(k, d)
	k2, d2 := (k+1)/2, (d+1)/2
	w2 := packed[:k2*dp]
	wt2 := packed[k2*dp : k2*dp+d2*kp]
	clear(w2)
	clear(wt2)
	for p := 0; p < k2; p++ {
		row := w2[p*dp : p*dp+d]
		lo := w[2*p*d : 2*p*d+d]
		if 2*p+1 < k {
			hi := w[(2*p+1)*d : (2*p+1)*d+d]
			for j := range row {
				row[j] = bf16Pair(lo[j], hi[j])
			}
		} else {
			for j := range row {
				row[j] = uint32(bf16Round(lo[j]))
			}
		}
	}
	// bf16 of W[kk][j] is half kk&1 of W2[kk/2][j].
	for kk := 0; kk < k; kk++ {
		src := w2[kk/2*dp : kk/2*dp+d]
		shift := 16 * uint(kk&1)
		for p := 0; p < d2; p++ {
			v := src[2*p] >> shift & 0xffff
			if 2*p+1 < d {
				v |= src[2*p+1] >> shift << 16
			}
			wt2[p*kp+kk] = v
		}
	}
}

// NNMFIterateBF16 is NNMFIterate with both products in bf16 (see the top of
// this file); packed is the NNMFPackBF16 layout and scratch has length
// NNMFScratchLenBF16. Where BF16Active is false it runs the pure-Go twin of
// the kernel, which gives the same answer far more slowly: callers that want
// speed ask EffectivePrecision first and call NNMFIterate for float32.
func NNMFIterateBF16(x []float32, rows, k, d, iters int, useEps bool, eps float32, packed []uint32, h, scratch []float32) {
	if rows <= 0 || iters <= 0 {
		return
	}
	kp, dp := NNMFPadded(k, d)
	k2, d2 := (k+1)/2, (d+1)/2
	_ = x[rows*d-1]
	_ = h[rows*k-1]
	_ = scratch[NNMFScratchLenBF16(k, d)-1]
	w2 := packed[:k2*dp]
	wt2 := packed[k2*dp : k2*dp+d2*kp]
	xt := scratch[:NNMFTileRows*dp]
	ht := scratch[NNMFTileRows*dp : NNMFTileRows*(dp+kp)]
	rest := scratch[NNMFTileRows*(dp+kp) : NNMFScratchLenBF16(k, d)]
	bf := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(rest))), len(rest))
	hb := bf[:NNMFTileRows*kp/2]
	qb := bf[NNMFTileRows*kp/2:]
	var tile nnmfTileBF16Fn = nnmfTileBF16Go
	if BF16Active() {
		tile = nnmfTileBF16Asm
	}
	forEachTile(x, h, rows, k, d, kp, dp, xt, ht, func() {
		tile(xt, ht, hb, qb, w2, wt2, k, d, kp, dp, iters, useEps, eps)
	})
}

// nnmfTileBF16Fn runs iters bf16 updates on one tile: xt is NNMFTileRows × dp
// float32, ht NNMFTileRows × kp float32 (padding lanes zero, updated in
// place); hb and qb are the bf16 tiles (NNMFTileRows × kp/2 and × dp/2 dwords).
type nnmfTileBF16Fn func(xt, ht []float32, hb, qb, w2, wt2 []uint32, k, d, kp, dp, iters int, useEps bool, eps float32)

// bf16Dot adds the VDPBF16PS term of one lane: the product of the odd
// elements first, then of the even ones, each added to the float32
// accumulator with one rounding (the products of two bf16 are exact in
// float32), denormal sums flushed to zero.
func bf16Dot(acc float32, a, b uint32) float32 {
	acc = ftz(acc + bf16Float(uint16(a>>16))*bf16Float(uint16(b>>16)))
	return ftz(acc + bf16Float(uint16(a))*bf16Float(uint16(b)))
}

func ftz(f float32) float32 {
	if math.Float32bits(f)&0x7f800000 == 0 {
		return 0
	}
	return f
}

// nnmfTileBF16Go is the pure-Go twin of the bf16 assembly kernel: the same
// roundings, the same pair sums in the same order. Only the normalising sum
// of h differs (float64 here, a float32 tree there).
func nnmfTileBF16Go(xt, ht []float32, hb, qb, w2, wt2 []uint32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	k2, d2 := (k+1)/2, (d+1)/2
	for it := 0; it < iters; it++ {
		for i := 0; i < NNMFTileRows; i++ {
			x := xt[i*dp : (i+1)*dp]
			h := ht[i*kp : (i+1)*kp]
			hbr := hb[i*kp/2 : (i+1)*kp/2]
			qbr := qb[i*dp/2 : (i+1)*dp/2]
			for p := range hbr {
				hbr[p] = bf16Pair(h[2*p], h[2*p+1])
			}
			// q = x / (R + 1e-20), two lanes at a time, kept only as bf16.
			var q [2]float32
			for jp := range qbr {
				for l := range q {
					j := 2*jp + l
					var s float32
					for p := 0; p < k2; p++ {
						s = bf16Dot(s, w2[p*dp+j], hbr[p])
					}
					q[l] = x[j] / (s + nnmfReconEps)
				}
				qbr[jp] = bf16Pair(q[0], q[1])
			}
			for kk := 0; kk < kp; kk++ {
				var u float32
				for p := 0; p < d2; p++ {
					u = bf16Dot(u, wt2[p*kp+kk], qbr[p])
				}
				if useEps {
					h[kk] *= 1 + eps*u
				} else {
					h[kk] *= u
				}
			}
			var s float64
			for _, v := range h {
				s += float64(v)
			}
			sum := float32(s) + nnmfNormEps
			for kk := range h {
				h[kk] /= sum
			}
		}
	}
}
