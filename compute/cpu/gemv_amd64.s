//go:build !purego

#include "textflag.h"

// The few-row product's row kernel (gemv.go), written by hand.
//
// func gemvBF16AVX512(out, q *float32, w *uint16, ldw, nr, k, acc int)
//
// out[r] = q'·widen(w[r*ldw : r*ldw+k]) for r < nr (added to out[r] when
// acc is not 0). k is a multiple of 32 and q' is the activation row with
// each block of 32 split into its 16 even elements and then its 16 odd
// ones (permuteEvenOdd): a 64-byte load of 32 bf16 weights holds the even
// ones in the low halves of its 16 dwords and the odd ones in the high
// halves, so a shift and a mask widen them exactly, with no shuffle; the
// even and odd products go to two accumulators. The rows are taken one at
// a time, in order: the memory is then read as one sequential stream,
// which the hardware prefetchers follow at full speed (taking four rows at
// once, four interleaved streams, ran at half the speed on Zen 4).
TEXT ·gemvBF16AVX512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ ldw+24(FP), R8
	SHLQ $1, R8
	MOVQ nr+32(FP), CX
	MOVQ k+40(FP), R9
	MOVQ acc+48(FP), BX
	MOVL $0xFFFF0000, AX
	VPBROADCASTD AX, Z31

gemvh_one:
	TESTQ CX, CX
	JZ gemvh_done

gemvh_one_row:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	XORQ R10, R10

gemvh_one_col:
	VMOVUPS (SI)(R10*4), Z16
	VMOVUPS 64(SI)(R10*4), Z17
	VMOVDQU32 (DX)(R10*2), Z20
	VPSLLD $16, Z20, Z21
	VPANDD Z31, Z20, Z20
	VFMADD231PS Z21, Z16, Z0
	VFMADD231PS Z20, Z17, Z1
	ADDQ $32, R10
	CMPQ R10, R9
	JLT gemvh_one_col

	VADDPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y8
	VADDPS Y8, Y0, Y0
	VEXTRACTF128 $1, Y0, X8
	VADDPS X8, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	TESTQ BX, BX
	JZ gemvh_one_store
	VADDSS (DI), X0, X0

gemvh_one_store:
	MOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R8, DX
	DECQ CX
	JNZ gemvh_one_row

gemvh_done:
	VZEROUPPER
	RET
