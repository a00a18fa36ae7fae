//go:build unix

package safetensors

import "syscall"

// Release tells the operating system that the mapped pages of the set's
// files are not needed for now: they leave the process's resident memory
// and are read back from the page cache (or the file) if touched again.
// Tensors stay valid. QLoRA calls it after quantising the weights it read.
func (s *Set) Release() {
	for _, f := range s.files {
		if f.unmap != nil && len(f.data) > 0 {
			syscall.Madvise(f.data, syscall.MADV_DONTNEED)
		}
	}
}
