package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Neither avo v0.5.0 nor the Go assembler knows the AVX512_BF16
// instructions, so the kernel emits them as BYTE directives, encoded here.
// Only what the kernel uses is covered: the 512-bit forms of three
// instructions of the 0F38 map, EVEX.W0, no masking, with a zmm register or
// a [base + index·scale + disp] operand (optionally a {1to16} broadcast) in
// the r/m slot. evex_test.go checks the encodings against GNU as.

// evexOp is one instruction: its mandatory prefix (the pp field) and opcode.
type evexOp struct {
	name   string // AT&T mnemonic, for comments and the test
	pp     byte   // 1 = 66, 2 = F3, 3 = F2
	opcode byte
	nds    bool // has a second source in EVEX.vvvv
}

var (
	// VDPBF16PS zmm1, zmm2, zmm3/m512/m32bcst: EVEX.512.F3.0F38.W0 52 /r.
	opVDPBF16PS = evexOp{"vdpbf16ps", 2, 0x52, true}
	// VCVTNE2PS2BF16 zmm1, zmm2, zmm3/m512/m32bcst: EVEX.512.F2.0F38.W0 72 /r.
	opVCVTNE2PS2BF16 = evexOp{"vcvtne2ps2bf16", 3, 0x72, true}
	// VCVTNEPS2BF16 ymm1, zmm2/m512/m32bcst: EVEX.512.F3.0F38.W0 72 /r.
	opVCVTNEPS2BF16 = evexOp{"vcvtneps2bf16", 2, 0x72, false}
)

// rmOperand is the r/m operand: a vector register number (0-31) or memory.
type rmOperand struct {
	vec   int // register number when mem is nil
	mem   *operand.Mem
	bcst  bool // {1to16}: a 32-bit element broadcast (memory only)
	isMem bool
}

func rmReg(r reg.Register) rmOperand { return rmOperand{vec: physIndex(r)} }

func rmMem(m operand.Mem, bcst bool) rmOperand {
	return rmOperand{mem: &m, bcst: bcst, isMem: true}
}

func physIndex(r reg.Register) int {
	p, ok := r.(reg.Physical)
	if !ok {
		panic(fmt.Sprintf("evex: %v is not a physical register", r))
	}
	return int(p.PhysicalIndex())
}

func bit(v, n int) byte { return byte(v>>n) & 1 }

// encodeEVEX encodes op with dst in ModRM.reg, src1 in EVEX.vvvv (ignored
// when the instruction has none) and src2 in ModRM.r/m.
func encodeEVEX(op evexOp, dst, src1 int, src2 rmOperand) []byte {
	if !op.nds {
		src1 = 0 // vvvv = 1111b and V' = 1 once inverted
	}
	var x, b byte // EVEX.X and EVEX.B before inversion
	var modrm byte
	var tail []byte // SIB and displacement
	if !src2.isMem {
		x, b = bit(src2.vec, 4), bit(src2.vec, 3)
		modrm = 0xc0 | byte(dst&7)<<3 | byte(src2.vec&7)
	} else {
		m := src2.mem
		base := physIndex(m.Base)
		index := 4 // "no index" in SIB.index
		if m.Index != nil {
			index = physIndex(m.Index)
			if index == 4 {
				panic("evex: SP cannot be an index")
			}
			x = bit(index, 3)
		}
		b = bit(base, 3)
		// Disp8·N compression: N is the memory operand's size, 64 bytes for
		// a full vector, 4 for a 32-bit broadcast element.
		n := 64
		if src2.bcst {
			n = 4
		}
		disp := int(m.Disp)
		var mod byte
		switch {
		case disp == 0 && base&7 != 5:
			mod = 0
		case disp%n == 0 && disp/n >= -128 && disp/n <= 127:
			mod = 1
		default:
			mod = 2
		}
		rm := byte(base & 7)
		if m.Index != nil || base&7 == 4 {
			rm = 4
			var ss byte
			switch m.Scale {
			case 0, 1:
				ss = 0
			case 2:
				ss = 1
			case 4:
				ss = 2
			case 8:
				ss = 3
			default:
				panic(fmt.Sprintf("evex: bad scale %d", m.Scale))
			}
			tail = append(tail, ss<<6|byte(index&7)<<3|byte(base&7))
		}
		modrm = mod<<6 | byte(dst&7)<<3 | rm
		switch mod {
		case 1:
			tail = append(tail, byte(int8(disp/n)))
		case 2:
			d := uint32(int32(disp))
			tail = append(tail, byte(d), byte(d>>8), byte(d>>16), byte(d>>24))
		}
	}
	p0 := (1^bit(dst, 3))<<7 | (1^x)<<6 | (1^b)<<5 | (1^bit(dst, 4))<<4 | 2 // map 0F38
	p1 := byte(0)<<7 | byte(^src1&15)<<3 | 1<<2 | op.pp                     // W0
	p2 := byte(2)<<5 | (1^bit(src1, 4))<<3                                  // L'L = 512, no mask
	if src2.bcst {
		p2 |= 1 << 4
	}
	out := []byte{0x62, p0, p1, p2, op.opcode, modrm}
	return append(out, tail...)
}

// atnt writes the instruction in GNU as syntax, for comments and the test.
func atnt(op evexOp, dst, src1 int, src2 rmOperand) string {
	var s string
	if src2.isMem {
		m := src2.mem
		s = fmt.Sprintf("%#x(%%%s", m.Disp, gpName(physIndex(m.Base)))
		if m.Index != nil {
			sc := m.Scale
			if sc == 0 {
				sc = 1
			}
			s += fmt.Sprintf(",%%%s,%d", gpName(physIndex(m.Index)), sc)
		}
		s += ")"
		if src2.bcst {
			s += "{1to16}"
		}
	} else {
		s = fmt.Sprintf("%%zmm%d", src2.vec)
	}
	if op.nds {
		s += fmt.Sprintf(",%%zmm%d", src1)
	}
	dreg := "zmm"
	if op == opVCVTNEPS2BF16 {
		dreg = "ymm"
	}
	return fmt.Sprintf("%s %s,%%%s%d", op.name, s, dreg, dst)
}

func gpName(i int) string {
	return [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}[i]
}

// emitEVEX appends the encoded instruction to the function being built as
// BYTE directives, after a comment naming it. The operands are invisible to
// avo, which is why the bf16 kernel uses physical registers only.
func emitEVEX(op evexOp, dst, src1 int, src2 rmOperand) {
	build.Comment(atnt(op, dst, src1, src2))
	for _, c := range encodeEVEX(op, dst, src1, src2) {
		build.Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []operand.Op{operand.U8(c)}})
	}
}
