package cpu

import (
	"sync"
	"unsafe"
)

// Scratch memory. The engine's temporaries (packed panels, edge tiles,
// attention blocks) come from free lists that keep them between calls and
// across garbage collections: a training step then allocates next to
// nothing, so the Go heap stays at its live size instead of growing to the
// collector's goal every step (with the frozen weights on the heap, that
// goal is half as much again as the weights at GOGC=50), and no time goes
// to allocating, zeroing and collecting them. A sync.Pool would not do: it
// empties at every collection.

// buf is a 64-byte aligned scratch slice from a free list.
type buf[E float32 | uint16 | float64] struct {
	s   []E
	raw []E
}

// freeList keeps returned buffers for reuse, best fit first.
type freeList[E float32 | uint16 | float64] struct {
	mu   sync.Mutex
	free []*buf[E]
}

const (
	// maxFree bounds the buffers a list keeps; beyond it the smallest
	// goes.
	maxFree = 64
	// bufPad leaves room to align the start to 64 bytes.
	bufPad = 32
)

var (
	freeF32 freeList[float32]
	freeU16 freeList[uint16]
	freeF64 freeList[float64]
)

// get returns a buffer of at least n elements. A kept buffer serves when it
// is at most twice the size asked for (plus a page), so that a small
// request does not hold a large one another call is about to need.
func (f *freeList[E]) get(n int) *buf[E] {
	need := n + bufPad
	f.mu.Lock()
	best := -1
	for i, b := range f.free {
		c := cap(b.raw)
		if c >= need && c <= 2*need+4096 && (best < 0 || c < cap(f.free[best].raw)) {
			best = i
		}
	}
	var b *buf[E]
	if best >= 0 {
		b = f.free[best]
		last := len(f.free) - 1
		f.free[best] = f.free[last]
		f.free[last] = nil
		f.free = f.free[:last]
	}
	f.mu.Unlock()
	if b == nil {
		b = &buf[E]{raw: make([]E, need)}
	}
	b.align(n)
	return b
}

// align sets b.s to n elements of b.raw from its first 64-byte boundary.
func (b *buf[E]) align(n int) {
	off := 0
	var e E
	if addr := uintptr(unsafe.Pointer(&b.raw[0])); addr%64 != 0 {
		off = int((64 - addr%64) / unsafe.Sizeof(e))
	}
	b.s = b.raw[off : off+n]
}

// put returns b to the list.
func (f *freeList[E]) put(b *buf[E]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.free) < maxFree {
		f.free = append(f.free, b)
		return
	}
	small := 0
	for i, x := range f.free {
		if cap(x.raw) < cap(f.free[small].raw) {
			small = i
		}
	}
	if cap(f.free[small].raw) < cap(b.raw) {
		f.free[small] = b
	}
}

// getBuf returns scratch of at least n elements (contents undefined).
func getBuf[E float32 | uint16 | float64](n int) *buf[E] {
	var e E
	switch unsafe.Sizeof(e) {
	case 4:
		return any(freeF32.get(n)).(*buf[E])
	case 8:
		return any(freeF64.get(n)).(*buf[E])
	}
	return any(freeU16.get(n)).(*buf[E])
}

// putBuf returns scratch to its free list.
func putBuf[E float32 | uint16 | float64](b *buf[E]) {
	switch x := any(b).(type) {
	case *buf[float32]:
		freeF32.put(x)
	case *buf[uint16]:
		freeU16.put(x)
	case *buf[float64]:
		freeF64.put(x)
	}
}
