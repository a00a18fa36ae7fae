//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// nf4Asm reports whether the assembly NF4 decoders of quant_amd64.s run
// here: they need AVX512_BF16 (VCVTNEPS2BF16) and AVX512_VBMI (VPERMB).
var nf4Asm = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512BF16 && cpu.X86.HasAVX512VBMI

// nf4BlocksBF16 decodes nblk whole NF4 blocks of 64 codes (32 bytes each,
// high nibble first) into 64·nblk bf16 weights, block i scaled by
// scales[i]: each weight is NF4Code[code]·scale rounded to nearest even.
//
//go:noescape
func nf4BlocksBF16(dst *uint16, packed *byte, scales *float32, nblk int, k *nf4Consts)

// nf4PairsBF16 packs npairs pairs of rows of an NF4 matrix into a 48-wide
// bf16 panel (packBBF16's layout, 192 bytes a pair): packed points at the
// codes of the panel's first column in the first row, ld is the byte
// stride of a row, scales holds four scales a pair (first row: its block
// at the first column, the next block; second row: the same), and args the
// block boundary and the masks of the panel's columns.
//
//go:noescape
func nf4PairsBF16(dst *uint16, packed *byte, ld int, scales *float32, npairs int, args *nf4PairArgs, k *nf4Consts)
