package kernels

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// nearestBF16 rounds f to bf16 by comparing it with its two bf16 neighbours
// in float64 (ties to the even one): an oracle independent of bf16Round's
// bit trick.
func nearestBF16(f float32) uint16 {
	b := math.Float32bits(f)
	lo := b &^ 0xffff
	hi := lo + 0x10000
	dl := math.Abs(float64(f) - float64(math.Float32frombits(lo)))
	dh := math.Abs(float64(math.Float32frombits(hi)) - float64(f))
	switch {
	case dl < dh:
		return uint16(lo >> 16)
	case dh < dl:
		return uint16(hi >> 16)
	case (lo>>16)&1 == 0:
		return uint16(lo >> 16)
	}
	return uint16(hi >> 16)
}

func TestBF16Round(t *testing.T) {
	fixed := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81}, // just above the tie
		{0x3f807fff, 0x3f80}, // just below the tie
		{0x00400000, 0x0000}, // denormal → +0
		{0x80400000, 0x8000}, // negative denormal → −0
		{0x7f7fffff, 0x7f80}, // max float rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // −Inf
	}
	for _, c := range fixed {
		if got := bf16Round(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("bf16Round(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if got := bf16Round(float32(math.NaN())); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("bf16Round(NaN) = %#04x, not a NaN", got)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		// Normal floats of both signs and a wide range of exponents.
		b := rng.Uint32()&0x8fffffff | 0x00800000
		if b&0x7f800000 == 0x7f800000 {
			continue
		}
		f := math.Float32frombits(b)
		if got, want := bf16Round(f), nearestBF16(f); got != want {
			t.Fatalf("bf16Round(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
}

func TestNNMFPackBF16Layout(t *testing.T) {
	for _, sh := range [][2]int{{5, 7}, {32, 75}, {4, 16}, {1, 1}} {
		k, d := sh[0], sh[1]
		rng := rand.New(rand.NewPCG(uint64(k), uint64(d)))
		w := make([]float32, k*d)
		for i := range w {
			w[i] = rng.Float32()
		}
		packed, all := withGuardU32(make([]uint32, NNMFPackedLenBF16(k, d)), 16, 0xdeadbeef)
		NNMFPackBF16(w, k, d, packed)
		for _, v := range all[len(packed):] {
			if v != 0xdeadbeef {
				t.Fatalf("k=%d d=%d: pack wrote past the end", k, d)
			}
		}
		kp, dp := NNMFPadded(k, d)
		get := func(kk, j int) uint16 {
			if kk >= k || j >= d {
				return 0
			}
			return nearestBF16(w[kk*d+j])
		}
		k2 := (k + 1) / 2
		for p := 0; p < k2; p++ {
			for j := 0; j < dp; j++ {
				want := uint32(get(2*p, j)) | uint32(get(2*p+1, j))<<16
				if got := packed[p*dp+j]; got != want {
					t.Fatalf("k=%d d=%d: W2[%d][%d] = %#x, want %#x", k, d, p, j, got, want)
				}
			}
		}
		for p := 0; p < (d+1)/2; p++ {
			for kk := 0; kk < kp; kk++ {
				want := uint32(get(kk, 2*p)) | uint32(get(kk, 2*p+1))<<16
				if got := packed[k2*dp+p*kp+kk]; got != want {
					t.Fatalf("k=%d d=%d: Wt2[%d][%d] = %#x, want %#x", k, d, p, kk, got, want)
				}
			}
		}
	}
}

func withGuardU32(s []uint32, n int, g uint32) (cp, all []uint32) {
	all = make([]uint32, len(s)+n)
	copy(all, s)
	for i := len(s); i < len(all); i++ {
		all[i] = g
	}
	return all[:len(s):len(s)], all
}

// bf16RefTol bounds the relative error (per row, 2-norm) of the bf16 forward
// against the float64-accumulated float32 reference after the test's 5
// updates. Rounding a non-negative operand to bf16 changes it by at most
// 2⁻⁹ relative, so each product of non-negative terms (R, then u) is off by
// at most 2·2⁻⁹ and one update moves h by at most ~4·2⁻⁹ ≈ 0.8 %; the
// normalisation keeps the updates from compounding much beyond that, and
// the bound allows for them: 5·4·2⁻⁹ ≈ 4 %.
const bf16RefTol = 5 * 4.0 / 512

// bf16TwinTol bounds asm against the twin: they differ only in the float32
// tree order of the normalising sum (and in how the CPU sums a VDPBF16PS
// pair, should it deviate from Intel's two roundings), a few float32 ulps. A
// kernel that skipped a bf16 rounding would be off by ~2⁻⁹.
const bf16TwinTol = 1e-5

func TestNNMFIterateBF16(t *testing.T) {
	shapes := []struct{ rows, k, d int }{
		{1, 1, 1}, {3, 5, 12}, {9, 5, 12}, {7, 32, 75}, {5, 64, 800}, {6, 96, 1024}, {4, 10, 96},
		{5, 17, 33}, {4, 64, 80}, {6, 80, 100}, {3, 3, 16}, {2, 130, 7}, {5, 48, 400}, {4, 16, 240},
		{8, 32, 75}, {16, 64, 80}, {17, 32, 75}, {23, 96, 112}, {9, 48, 64}, {11, 80, 33}, {10, 20, 50},
		{3, 31, 31}, {12, 33, 47}, {5, 47, 15},
	}
	start := ActivePath()
	defer ForcePath(start)
	rng := rand.New(rand.NewPCG(1, 2))
	var worstRef, worstTwin float64
	for _, sh := range shapes {
		for _, useEps := range []bool{false, true} {
			name := fmt.Sprintf("rows=%d k=%d d=%d eps=%v", sh.rows, sh.k, sh.d, useEps)
			x, w := nnmfProblem(sh.rows, sh.k, sh.d, rng)
			const iters, eps = 5, 0.3
			h0 := make([]float32, sh.rows*sh.k)
			for i := range h0 {
				h0[i] = float32(1.0 / float64(sh.k))
			}
			ref := append([]float32(nil), h0...)
			NNMFIterateRef(x, sh.rows, sh.k, sh.d, iters, useEps, eps, w, ref)

			run := func(p CPUPath) []float32 {
				if _, err := ForcePath(p); err != nil {
					t.Fatal(err)
				}
				const guard = 64
				nan := float32(math.NaN())
				got, gotAll := withGuard(h0, guard, nan)
				xg, _ := withGuard(x, guard, nan)
				packed, _ := withGuardU32(make([]uint32, NNMFPackedLenBF16(sh.k, sh.d)), guard, 0x7fc07fc0) // NaN pairs
				NNMFPackBF16(w, sh.k, sh.d, packed)
				scratch, scratchAll := withGuard(make([]float32, NNMFScratchLenBF16(sh.k, sh.d)), guard, -7)
				NNMFIterateBF16(xg, sh.rows, sh.k, sh.d, iters, useEps, eps, packed, got, scratch)
				for i, v := range gotAll[len(got):] {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("%s %s: h[%d] past the end written (%v)", name, p, len(got)+i, v)
					}
				}
				for i, v := range scratchAll[len(scratch):] {
					if v != -7 {
						t.Fatalf("%s %s: scratch[%d] past the end written (%v)", name, p, len(scratch)+i, v)
					}
				}
				return got
			}
			twin := run(PathGeneric)
			e := maxRowRelErr(twin, ref, sh.rows, sh.k)
			worstRef = max(worstRef, e)
			if !(e <= bf16RefTol) {
				t.Errorf("%s: twin vs float32 reference: relative error %.3g > %.3g", name, e, bf16RefTol)
			}
			if !BF16Supported() {
				continue
			}
			asm := run(PathAVX512)
			e = maxRowRelErr(asm, twin, sh.rows, sh.k)
			worstTwin = max(worstTwin, e)
			if !(e <= bf16TwinTol) {
				t.Errorf("%s: asm vs twin: relative error %.3g > %.3g", name, e, bf16TwinTol)
			}
		}
	}
	t.Logf("max row relative error: twin vs float32 reference %.3g; asm vs twin %.3g (asm run: %v)", worstRef, worstTwin, BF16Supported())
}

// maxRowRelErr is the largest per-row relative 2-norm error of got against
// want (rows × k), +Inf for a NaN.
func maxRowRelErr(got, want []float32, rows, k int) float64 {
	var worst float64
	for r := 0; r < rows; r++ {
		var num, den float64
		for kk := 0; kk < k; kk++ {
			e := float64(got[r*k+kk]) - float64(want[r*k+kk])
			num += e * e
			den += float64(want[r*k+kk]) * float64(want[r*k+kk])
		}
		if math.IsNaN(num) {
			return math.Inf(1)
		}
		if den > 0 {
			worst = max(worst, math.Sqrt(num/den))
		} else if num > 0 {
			return math.Inf(1)
		}
	}
	return worst
}

func TestEffectivePrecision(t *testing.T) {
	start := ActivePath()
	defer ForcePath(start)
	if EffectivePrecision(Float32) != Float32 {
		t.Fatal("float32 request not float32")
	}
	if _, err := ForcePath(PathGeneric); err != nil {
		t.Fatal(err)
	}
	if got := EffectivePrecision(BF16); got != Float32 {
		t.Fatalf("bf16 on the generic path = %s, want the float32 fallback", got)
	}
	if BF16Unavailable() == "" {
		t.Fatal("no reason given for the fallback")
	}
	if BF16Supported() {
		if _, err := ForcePath(PathAVX512); err != nil {
			t.Fatal(err)
		}
		if got := EffectivePrecision(BF16); got != BF16 || BF16Unavailable() != "" {
			t.Fatalf("bf16 on an AVX512_BF16 CPU = %s (%q)", got, BF16Unavailable())
		}
	}
}

func TestPrecisionText(t *testing.T) {
	for _, p := range []Precision{Float32, BF16} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q Precision
		if err := json.Unmarshal(b, &q); err != nil || q != p {
			t.Fatalf("%s → %s → %v, %v", p, b, q, err)
		}
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Fatal("fp16 accepted")
	}
	if _, err := Precision(7).MarshalText(); err == nil {
		t.Fatal("Precision(7) marshalled")
	}
}

// The package promises no allocations: the pack and the iteration (twin and
// assembly) write only into the caller's buffers.
func TestNNMFBF16NoAllocations(t *testing.T) {
	const rows, k, d = 11, 33, 47
	x, w := nnmfProblem(rows, k, d, rand.New(rand.NewPCG(3, 3)))
	h := make([]float32, rows*k)
	packed := make([]uint32, NNMFPackedLenBF16(k, d))
	scratch := make([]float32, NNMFScratchLenBF16(k, d))
	start := ActivePath()
	defer ForcePath(start)
	paths := []CPUPath{PathGeneric}
	if BF16Supported() {
		paths = append(paths, PathAVX512)
	}
	for _, p := range paths {
		if _, err := ForcePath(p); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(3, func() {
			for i := range h {
				h[i] = 1.0 / k
			}
			NNMFPackBF16(w, k, d, packed)
			NNMFIterateBF16(x, rows, k, d, 2, false, 0, packed, h, scratch)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pack and iterate", p, allocs)
		}
	}
}
