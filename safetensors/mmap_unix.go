//go:build unix

package safetensors

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only and shared: pages come from the
// page cache on first touch, and several processes serving the same model
// share them.
func mapFile(f *os.File, size int) ([]byte, func([]byte) error, error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	return data, syscall.Munmap, nil
}
