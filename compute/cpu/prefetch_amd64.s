//go:build !purego

#include "textflag.h"

// func prefetchBytes(p unsafe.Pointer, n int)
//
// A PREFETCHT0 for every 64 bytes of [p, p+n): the lines start coming into
// the caches while the caller goes on.
TEXT ·prefetchBytes(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX
pf_loop:
	CMPQ SI, CX
	JGE pf_done
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP pf_loop
pf_done:
	RET

// func loadBytes(p unsafe.Pointer, n int)
//
// A load of one word of every 64-byte line of [p, p+n), from the line that
// holds p: the loads' results are dropped, but each line is read into the
// caches, and a run of them is a stream that the core's prefetchers follow.
TEXT ·loadBytes(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX
	ANDQ $-64, SI
ld_loop:
	CMPQ SI, CX
	JGE ld_done
	MOVQ (SI), AX
	ADDQ $64, SI
	JMP ld_loop
ld_done:
	RET
