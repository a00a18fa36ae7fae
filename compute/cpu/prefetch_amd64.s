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
