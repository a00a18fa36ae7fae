package cpu

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestLoadBounds: load reads the cache lines of its slice and nothing
// beyond them: slices of awkward lengths at awkward offsets that end at
// the last byte before an inaccessible page (a read past the end would
// fault) or start at the first byte after one (a read before the start
// would), and the bytes are left as they were.
func TestLoadBounds(t *testing.T) {
	const page = 4096
	mem, err := syscall.Mmap(-1, 0, 4*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	// pages 0 and 3 inaccessible, 1 and 2 readable
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(mem[3*page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	body := mem[page : 3*page]
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, n := range []int{1, 7, 63, 64, 65, 577, 2 * page} {
		for _, off := range []int{0, 1, 31, 63} {
			if off+n > len(body) {
				continue
			}
			load(body[len(body)-off-n : len(body)-off]) // ends at the guard page when off is 0
			load(body[off : off+n])                     // starts after the first guard page when off is 0
			if n >= 2 {
				u := unsafe.Slice((*uint16)(unsafe.Pointer(&body[len(body)-off-n&^1])), n/2)
				load(u) // the element type's size counted
			}
		}
	}
	for i, b := range body {
		if b != byte(i*7) {
			t.Fatalf("byte %d changed to %d", i, b)
		}
	}
}
