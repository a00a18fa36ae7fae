//go:build !unix

package safetensors

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the whole file into memory on platforms where hone does not
// memory-map (Windows, wasm, plan9): correct, but it costs a copy of the
// checkpoint in RAM and the read time.
func mapFile(f *os.File, size int) ([]byte, func([]byte) error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	return data, nil, nil
}
