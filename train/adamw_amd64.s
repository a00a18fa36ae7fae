//go:build !purego

#include "textflag.h"

// func adamwAVX512(w, grad, m, v *float32, n int, c *[8]float32)
// c = decay, b1, 1-b1, b2, 1-b2, stepSize, sqrtBC2, eps.
// For each i (n a multiple of 16), with the operations of the Go loop in
// the same order and no fused multiply-add, so the result is the same to
// the bit:
//	w *= decay
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g*g
//	w -= stepSize * m / (sqrt(v)/sqrtBC2 + eps)
TEXT ·adamwAVX512(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Z20  // decay
	VBROADCASTSS 4(AX), Z21  // b1
	VBROADCASTSS 8(AX), Z22  // 1-b1
	VBROADCASTSS 12(AX), Z23 // b2
	VBROADCASTSS 16(AX), Z24 // 1-b2
	VBROADCASTSS 20(AX), Z25 // stepSize
	VBROADCASTSS 24(AX), Z26 // sqrtBC2
	VBROADCASTSS 28(AX), Z27 // eps
adam_loop:
	TESTQ CX, CX
	JZ adam_done
	VMOVUPS (SI), Z1           // g
	VMULPS (DI), Z20, Z0       // w*decay
	VMULPS (DX), Z21, Z2       // b1*m
	VMULPS Z1, Z22, Z3         // (1-b1)*g
	VADDPS Z3, Z2, Z2          // m
	VMOVUPS Z2, (DX)
	VMULPS (R8), Z23, Z4       // b2*v
	VMULPS Z1, Z24, Z5         // (1-b2)*g
	VMULPS Z1, Z5, Z5          // (1-b2)*g*g
	VADDPS Z5, Z4, Z4          // v
	VMOVUPS Z4, (R8)
	VSQRTPS Z4, Z6             // sqrt(v)
	VDIVPS Z26, Z6, Z6         // sqrt(v)/sqrtBC2
	VADDPS Z27, Z6, Z6         // + eps
	VMULPS Z2, Z25, Z7         // stepSize*m
	VDIVPS Z6, Z7, Z7          // / denom
	VSUBPS Z7, Z0, Z0          // w - ...
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	SUBQ $16, CX
	JMP adam_loop
adam_done:
	VZEROUPPER
	RET
