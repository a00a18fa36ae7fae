package tensor

import (
	"fmt"
	"unsafe"
)

// ArenaAlign is the alignment of every tensor an Arena hands out: a cache
// line, so that no two tensors share one and vector loads of a row that
// starts a tensor are aligned.
const ArenaAlign = 64

// hugePage is the size of the pages an arena asks the operating system for
// (x86-64 and arm64 Linux's transparent huge pages).
const hugePage = 2 << 20

// Arena is one block of memory that tensors are carved from, in the order
// they are asked for. A model keeps its weight matrices in one so that a
// decoded token, which reads every matrix once in layer order, streams
// through a single run of memory; where the operating system has
// transparent huge pages (Linux), the block is aligned to 2 MiB and asked
// to be backed by them, which spares the reads a page walk every 4 KiB and
// lets the prefetchers run across what would be page boundaries: one core
// read memory at 20-24 GB/s from 4 KiB pages and 31-32 GB/s from huge
// pages on the 2-core Zen 4 development machine (docs/PERFORMANCE.md).
//
// The block is ordinary Go memory: it lives as long as any tensor carved
// from it.
type Arena struct {
	buf []byte
	off int
}

// ArenaSize returns the bytes a tensor of dtype dt and the given shape takes
// in an arena, padding included.
func ArenaSize(dt DType, shape ...int) int {
	return (numel(shape)*dt.Size() + ArenaAlign - 1) &^ (ArenaAlign - 1)
}

// NewArena returns an arena of size bytes (the sum of the ArenaSize of the
// tensors it will hold), zeroed.
func NewArena(size int) *Arena {
	if size < 0 {
		panic(fmt.Sprintf("tensor.NewArena: negative size %d", size))
	}
	if size == 0 {
		return &Arena{}
	}
	align := ArenaAlign
	if size >= hugePage {
		align = hugePage
	}
	// whole words so that the block is word-aligned to begin with
	words := make([]uint64, (size+align+7)/8)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	skip := (align - int(uintptr(unsafe.Pointer(&raw[0])))%align) % align
	a := &Arena{buf: raw[skip : skip+size : skip+size]}
	if align == hugePage {
		adviseHuge(a.buf)
	}
	return a
}

// New returns a zeroed tensor carved from the arena's next free bytes. It
// panics when the arena has too little left, a sizing error of its caller.
func (a *Arena) New(dt DType, shape ...int) *Tensor {
	n := numel(shape) * dt.Size()
	size := ArenaSize(dt, shape...)
	if a.off+size > len(a.buf) {
		panic(fmt.Sprintf("tensor.Arena.New: %s%v needs %d bytes, %d of %d left", dt, shape, size, len(a.buf)-a.off, len(a.buf)))
	}
	t := &Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: a.buf[a.off : a.off+n : a.off+n]}
	a.off += size
	return t
}

// Left returns the bytes not yet handed out.
func (a *Arena) Left() int { return len(a.buf) - a.off }

// Settle asks the operating system to back the arena's pages that are
// already in memory by huge pages now (Linux's MADV_COLLAPSE): memory the Go
// runtime reused was paged in before the arena asked for huge pages, and
// would otherwise wait for a background scan. Call it once the tensors are
// written. It is a hint: where it fails the arena works as it is.
func (a *Arena) Settle() {
	if len(a.buf) >= hugePage {
		collapseHuge(a.buf)
	}
}
