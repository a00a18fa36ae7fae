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

// func gemvBF16DotAVX512(out *float32, q, w *uint16, ldw, nr, k, acc int)
//
// out[r] = q·w[r*ldw : r*ldw+k] for r < nr (added to out[r] when acc is
// not 0), q and w bf16 and the sums fp32 (VDPBF16PS, AVX512_BF16), k a
// multiple of 32. The row kernel of the bf16 mode: with q rounded to bf16
// a 64-byte load of weights needs one load of q and one instruction, where
// widening the weights exactly (gemvBF16AVX512) needs two loads of q, a
// shift, a mask and two FMAs, and ran at half the speed from cache and
// 0.8x from memory on one Zen 4 core. Rows one at a time, in order (one
// sequential stream); 128 columns a step into four accumulators. Go's
// assembler has no VDPBF16PS: it is written as bytes (EVEX.512.F3.0F38
// 52 /r, encoded as gen_kernels.go's vdpbf16ps does), weights in Z24-Z27,
// q in Z16-Z19, sums in Z0-Z3.
TEXT ·gemvBF16DotAVX512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ ldw+24(FP), R8
	SHLQ $1, R8
	MOVQ nr+32(FP), CX
	MOVQ k+40(FP), R9
	MOVQ acc+48(FP), BX
	MOVQ R9, R11
	ANDQ $-128, R11 // the columns taken 128 at a time

gemvd_row:
	TESTQ CX, CX
	JZ gemvd_done
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ R10, R10
	TESTQ R11, R11
	JZ gemvd_tail

gemvd_four:
	VMOVDQU32 (DX)(R10*2), Z24
	VMOVDQU32 64(DX)(R10*2), Z25
	VMOVDQU32 128(DX)(R10*2), Z26
	VMOVDQU32 192(DX)(R10*2), Z27
	VMOVDQU32 (SI)(R10*2), Z16
	VMOVDQU32 64(SI)(R10*2), Z17
	VMOVDQU32 128(SI)(R10*2), Z18
	VMOVDQU32 192(SI)(R10*2), Z19
	BYTE $0x62; BYTE $0x92; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xc0 // VDPBF16PS Z24, Z16, Z0
	BYTE $0x62; BYTE $0x92; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xc9 // VDPBF16PS Z25, Z17, Z1
	BYTE $0x62; BYTE $0x92; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xd2 // VDPBF16PS Z26, Z18, Z2
	BYTE $0x62; BYTE $0x92; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xdb // VDPBF16PS Z27, Z19, Z3
	ADDQ $128, R10
	CMPQ R10, R11
	JLT gemvd_four

gemvd_tail:
	CMPQ R10, R9
	JGE gemvd_sum
	VMOVDQU32 (DX)(R10*2), Z24
	VMOVDQU32 (SI)(R10*2), Z16
	BYTE $0x62; BYTE $0x92; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xc0 // VDPBF16PS Z24, Z16, Z0
	ADDQ $32, R10
	JMP gemvd_tail

gemvd_sum:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y8
	VADDPS Y8, Y0, Y0
	VEXTRACTF128 $1, Y0, X8
	VADDPS X8, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	TESTQ BX, BX
	JZ gemvd_store
	VADDSS (DI), X0, X0

gemvd_store:
	MOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R8, DX
	DECQ CX
	JMP gemvd_row

gemvd_done:
	VZEROUPPER
	RET
