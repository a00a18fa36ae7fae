//go:build !purego

#include "textflag.h"

// NF4 decoders of the packed GEMM (see quant.go). A code byte holds two
// weights, the earlier in the high nibble. VCVTNEPS2BF16 (AVX512_BF16) is
// not known to the Go assembler: it is written out as bytes, with the
// source and destination registers (0-7) in the ModRM byte.

// func nf4BlocksBF16(dst *uint16, packed *byte, scales *float32, nblk int, k *nf4Consts)
TEXT ·nf4BlocksBF16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ packed+8(FP), SI
	MOVQ scales+16(FP), R8
	MOVQ nblk+24(FP), CX
	MOVQ k+32(FP), AX
	VMOVUPS (AX), Z31 // the 16 NF4 values
	MOVL $0x000F0000, DX
	VPBROADCASTD DX, Z26
nb_loop:
	TESTQ CX, CX
	JZ nb_done
	// the block's 16 weights, bf16, in the low words of Z1
	VMULPS.BCST (R8), Z31, Z0
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xc8 // VCVTNEPS2BF16 Z0, Y1
	// 16 bytes -> 16 dwords d -> word indices (d>>4, d&15) -> 32 weights
	VPMOVZXBD (SI), Z2
	VPSRLD $4, Z2, Z3
	VPSLLD $16, Z2, Z4
	VPTERNLOGD $0xF8, Z26, Z4, Z3 // Z3 |= Z4 & 0x000F0000
	VPERMW Z1, Z3, Z5
	VMOVDQU16 Z5, (DI)
	VPMOVZXBD 16(SI), Z2
	VPSRLD $4, Z2, Z3
	VPSLLD $16, Z2, Z4
	VPTERNLOGD $0xF8, Z26, Z4, Z3
	VPERMW Z1, Z3, Z5
	VMOVDQU16 Z5, 64(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, R8
	DECQ CX
	JMP nb_loop
nb_done:
	VZEROUPPER
	RET

// func nf4PairsBF16(dst *uint16, packed *byte, ld int, scales *float32, npairs int, args *nf4PairArgs, k *nf4Consts)
//
// Per pair of rows: Z4 = [row 0's table of its first block | of its second
// block] and Z6 the same for row 1, 64 bf16 words indexed by code + 16·block
// + 32·row; Z8 = [row 0's 24 code bytes | row 1's]. Each 16-column group
// spreads the bytes of its columns into dwords (row 0 in byte 0, row 1 in
// byte 2), shifts the even columns' high nibbles down, masks to the codes,
// adds the table offsets and looks the words up: 16 dwords of the panel.
TEXT ·nf4PairsBF16(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ packed+8(FP), SI
	MOVQ ld+16(FP), DX
	MOVQ scales+24(FP), R8
	MOVQ npairs+32(FP), CX
	MOVQ args+40(FP), R9
	MOVQ k+48(FP), AX
	VMOVUPS (AX), Z31      // the 16 NF4 values
	VMOVDQU64 64(AX), Z30  // spread, group 0
	VMOVDQU64 128(AX), Z29 // group 1
	VMOVDQU64 192(AX), Z28 // group 2
	VMOVDQU64 256(AX), Z27 // shift counts
	VMOVDQU64 (R9), Z25    // table offsets, group 0
	VMOVDQU64 64(R9), Z24  // group 1
	VMOVDQU64 128(R9), Z23 // group 2
	MOVL $0x000F000F, BX
	VPBROADCASTD BX, Z26
	KMOVQ 192(R9), K1      // code bytes of a row
	MOVQ 200(R9), BX       // columns: 16 bits a group
	KMOVW BX, K2
	SHRQ $16, BX
	KMOVW BX, K3
	SHRQ $16, BX
	KMOVW BX, K4
pr_loop:
	TESTQ CX, CX
	JZ pr_done
	VMULPS.BCST (R8), Z31, Z0
	VMULPS.BCST 4(R8), Z31, Z1
	VMULPS.BCST 8(R8), Z31, Z2
	VMULPS.BCST 12(R8), Z31, Z3
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xe0 // VCVTNEPS2BF16 Z0, Y4
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xe9 // VCVTNEPS2BF16 Z1, Y5
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xf2 // VCVTNEPS2BF16 Z2, Y6
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xfb // VCVTNEPS2BF16 Z3, Y7
	VINSERTI64X4 $1, Y5, Z4, Z4
	VINSERTI64X4 $1, Y7, Z6, Z6
	VMOVDQU8.Z (SI), K1, Y8
	VMOVDQU8.Z (SI)(DX*1), K1, Y9
	VINSERTI64X4 $1, Y9, Z8, Z8
	// columns 0-15
	VPERMB Z8, Z30, Z10
	VPSRLVW Z27, Z10, Z10
	VPTERNLOGD $0xEA, Z25, Z26, Z10 // Z10 = Z10&0x000F000F | offsets
	VPERMI2W Z6, Z4, Z10
	VMOVDQU32 Z10, K2, (DI)
	// columns 16-31
	VPERMB Z8, Z29, Z11
	VPSRLVW Z27, Z11, Z11
	VPTERNLOGD $0xEA, Z24, Z26, Z11
	VPERMI2W Z6, Z4, Z11
	VMOVDQU32 Z11, K3, 64(DI)
	// columns 32-47
	VPERMB Z8, Z28, Z12
	VPSRLVW Z27, Z12, Z12
	VPTERNLOGD $0xEA, Z23, Z26, Z12
	VPERMI2W Z6, Z4, Z12
	VMOVDQU32 Z12, K4, 128(DI)
	LEAQ (SI)(DX*2), SI
	ADDQ $16, R8
	ADDQ $192, DI
	DECQ CX
	JMP pr_loop
pr_done:
	VZEROUPPER
	RET
