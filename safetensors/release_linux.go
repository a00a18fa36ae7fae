package safetensors

import "syscall"

// Release tells the operating system that the file's mapped pages are not
// needed for now: they leave the process's resident memory and are read back
// from the page cache (or the file) if touched again, so tensors stay valid
// and unchanged. A loader calls it after converting or quantising the
// weights it read, so the mapped originals stop counting against the
// process. It is a hint: an error from the kernel is ignored.
func (f *File) Release() {
	if f.unmap != nil && len(f.data) > 0 {
		syscall.Madvise(f.data, syscall.MADV_DONTNEED)
	}
}
