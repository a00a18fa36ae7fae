package safetensors

import (
	"os"
	"syscall"
)

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

// ReleaseTensor is Release for the pages that lie wholly inside the named
// tensor's bytes (a page shared with a neighbour stays): a loader that
// copies the weights tensor by tensor calls it after each, so the process
// never holds both copies of the whole model. Unknown names are ignored.
func (f *File) ReleaseTensor(name string) {
	ti, ok := f.h.infos[name]
	if f.unmap == nil || !ok {
		return
	}
	page := os.Getpagesize()
	lo, hi := int(f.h.dataStart+ti.Begin), int(f.h.dataStart+ti.End)
	lo = (lo + page - 1) / page * page
	hi = hi / page * page
	if lo < hi && hi <= len(f.data) {
		syscall.Madvise(f.data[lo:hi], syscall.MADV_DONTNEED)
	}
}
