//go:build unix

package gguf

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps path read-only. An empty file is read normally (mmap of
// length 0 fails).
func mapFile(path string) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, nil, nil
	}
	if size != int64(int(size)) {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, size)
	}
	b, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// some file systems cannot map: read the file instead
		b, rerr := readAll(path)
		if rerr != nil {
			return nil, nil, fmt.Errorf("%s: mmap: %v; read: %w", path, err, rerr)
		}
		return b, nil, nil
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
