//go:build amd64 && !purego

#include "textflag.h"

// func siluMulAVX512(out, gate, u, e *float32, n int)
// out[i] = g[i]*u[i] / (1+e[i]) (e = exp(-g)); n a multiple of 16.
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ e+24(FP), R8
	MOVQ n+32(FP), CX
	MOVL $0x3f800000, AX
	VMOVD AX, X15
	VBROADCASTSS X15, Z15
sm_loop:
	TESTQ CX, CX
	JZ sm_done
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VADDPS (R8), Z15, Z2
	VMULPS Z1, Z0, Z0
	VDIVPS Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sm_loop
sm_done:
	VZEROUPPER
	RET

// func siluBackAVX512(dg, du, dout, gate, u, e *float32, n int)
// with s = 1/(1+e[i]) (e = exp(-g)) and t = dout[i]*s:
// du[i] += t*g[i]; dg[i] += t*u[i]*(1 + g[i]*(1-s)); n a multiple of 16.
TEXT ·siluBackAVX512(SB), NOSPLIT, $0-56
	MOVQ dg+0(FP), DI
	MOVQ du+8(FP), R9
	MOVQ dout+16(FP), R10
	MOVQ gate+24(FP), SI
	MOVQ u+32(FP), DX
	MOVQ e+40(FP), R8
	MOVQ n+48(FP), CX
	MOVL $0x3f800000, AX
	VMOVD AX, X15
	VBROADCASTSS X15, Z15
sb_loop:
	TESTQ CX, CX
	JZ sb_done
	VMOVUPS (SI), Z0          // g
	VADDPS (R8), Z15, Z2      // 1+e
	VDIVPS Z2, Z15, Z2        // s
	VMULPS (R10), Z2, Z3      // t = dout*s
	VMULPS Z0, Z3, Z4         // t*g
	VADDPS (R9), Z4, Z4
	VMOVUPS Z4, (R9)          // du += t*g
	VSUBPS Z2, Z15, Z5        // 1-s
	VMULPS Z0, Z5, Z5         // g*(1-s)
	VADDPS Z15, Z5, Z5        // 1 + g*(1-s)
	VMULPS (DX), Z3, Z6       // t*u
	VMULPS Z5, Z6, Z6
	VADDPS (DI), Z6, Z6
	VMOVUPS Z6, (DI)          // dg += t*u*(1+g*(1-s))
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sb_loop
sb_done:
	VZEROUPPER
	RET

// func mulAVX512(dst, a, b *float32, n int, s float32)
// dst[i] = a[i]*b[i]*s; n a multiple of 16.
TEXT ·mulAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Z15
mul_loop:
	TESTQ CX, CX
	JZ mul_done
	VMULPS (SI), Z15, Z0
	VMULPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP mul_loop
mul_done:
	VZEROUPPER
	RET
