//go:build !purego

#include "textflag.h"

// func maxAVX2(v *float32, n int) float32
//
// The largest of v[:n] (n a positive multiple of 32), NaNs skipped, -Inf
// when there is nothing else: each load is VMAXPS's first source and the
// running maximum its second, which VMAXPS returns when the first is NaN.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ v+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX
	MOVL AX, X0
	VBROADCASTSS X0, Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
max_loop:
	VMOVUPS (SI), Y4
	VMAXPS Y0, Y4, Y0
	VMOVUPS 32(SI), Y5
	VMAXPS Y1, Y5, Y1
	VMOVUPS 64(SI), Y6
	VMAXPS Y2, Y6, Y2
	VMOVUPS 96(SI), Y7
	VMAXPS Y3, Y7, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JNZ max_loop
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func firstEqAVX2(v *float32, n int, x float32) int
//
// The first i < n (n a multiple of 8) with v[i] == x, or n.
TEXT ·firstEqAVX2(SB), NOSPLIT, $0-32
	MOVQ v+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS x+16(FP), Y1
	XORQ AX, AX
eq_loop:
	CMPQ AX, CX
	JGE eq_none
	VCMPPS $0, (SI)(AX*4), Y1, Y2
	VMOVMSKPS Y2, DX
	TESTL DX, DX
	JNZ eq_found
	ADDQ $8, AX
	JMP eq_loop
eq_found:
	BSFL DX, DX
	ADDQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
eq_none:
	VZEROUPPER
	MOVQ CX, ret+24(FP)
	RET
