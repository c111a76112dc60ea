package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func TestEncodeEVEXKnown(t *testing.T) {
	// objdump of GNU as for "vdpbf16ps %zmm3,%zmm2,%zmm1".
	got := encodeEVEX(opVDPBF16PS, 1, 2, rmOperand{vec: 3})
	if want := []byte{0x62, 0xf2, 0x6e, 0x48, 0x52, 0xcb}; !bytes.Equal(got, want) {
		t.Fatalf("vdpbf16ps %%zmm3,%%zmm2,%%zmm1 = % x, want % x", got, want)
	}
}

// evexCases covers every register-number bit (R, R', X, B, V', vvvv), the
// memory forms (no index, index with each scale, R12/R13 bases, disp 0,
// disp8·N and disp32) and the broadcast, for the three instructions.
func evexCases() []struct {
	op        evexOp
	dst, src1 int
	src2      rmOperand
} {
	type c = struct {
		op        evexOp
		dst, src1 int
		src2      rmOperand
	}
	mems := []operand.Mem{
		{Base: reg.RAX},
		{Base: reg.RSI, Disp: 64},
		{Base: reg.R10, Disp: 4},
		{Base: reg.R13},
		{Base: reg.R12, Disp: -128},
		{Base: reg.RBP, Disp: 8192},
		{Base: reg.RAX, Index: reg.R12, Scale: 2, Disp: 64},
		{Base: reg.R10, Index: reg.R11, Scale: 1},
		{Base: reg.RSI, Index: reg.RBX, Scale: 4, Disp: 100},
		{Base: reg.R9, Index: reg.R14, Scale: 8, Disp: -4},
	}
	var out []c
	for _, op := range []evexOp{opVDPBF16PS, opVCVTNE2PS2BF16, opVCVTNEPS2BF16} {
		for _, r := range [][3]int{{0, 0, 0}, {1, 2, 3}, {8, 9, 10}, {16, 17, 18}, {31, 30, 29}, {24, 7, 27}, {5, 23, 15}} {
			out = append(out, c{op, r[0], r[1], rmOperand{vec: r[2]}})
		}
		for i, m := range mems {
			out = append(out, c{op, (i * 7) % 32, (i * 13) % 32, rmMem(m, false)})
			out = append(out, c{op, (i*5 + 3) % 32, (i*11 + 17) % 32, rmMem(m, true)})
		}
	}
	return out
}

// TestEncodeEVEXMatchesGNUAs assembles every case with GNU as and compares
// objdump's bytes with the encoder's.
func TestEncodeEVEXMatchesGNUAs(t *testing.T) {
	as, err := exec.LookPath("as")
	if err != nil {
		t.Skip("GNU as not installed")
	}
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed")
	}
	cases := evexCases()
	var src strings.Builder
	for _, c := range cases {
		src.WriteString(atnt(c.op, c.dst, c.src1, c.src2) + "\n")
	}
	dir := t.TempDir()
	obj := filepath.Join(dir, "t.o")
	srcFile := filepath.Join(dir, "t.s")
	if err := os.WriteFile(srcFile, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(as, "-o", obj, srcFile).CombinedOutput(); err != nil {
		t.Skipf("as cannot assemble AVX512_BF16 (%v): %s", err, out)
	}
	dump, err := exec.Command(objdump, "-d", "--insn-width=16", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^\s*[0-9a-f]+:\s+((?:[0-9a-f]{2} )+)\s*(.*)$`)
	var got [][]byte
	var text []string
	for _, l := range strings.Split(string(dump), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
		text = append(text, m[2])
	}
	if len(got) != len(cases) {
		t.Fatalf("objdump lists %d instructions, want %d:\n%s", len(got), len(cases), dump)
	}
	for i, c := range cases {
		enc := encodeEVEX(c.op, c.dst, c.src1, c.src2)
		if !bytes.Equal(enc, got[i]) {
			t.Errorf("%s: encoder % x, as % x (%s)", atnt(c.op, c.dst, c.src1, c.src2), enc, got[i], text[i])
		}
	}
}
