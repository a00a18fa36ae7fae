//go:build !unix

package gguf

import "unsafe"

// mapFile reads path into memory where mmap is not available.
func mapFile(path string) ([]byte, func() error, error) {
	b, err := readAll(path)
	return b, nil, err
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
