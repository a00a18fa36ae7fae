//go:build !linux

package safetensors

// Release is a hint that the file's mapped pages are not needed for now
// (see the Linux version); on this platform it does nothing.
func (f *File) Release() {}

// ReleaseTensor is a hint that the named tensor's mapped pages are not
// needed for now (see the Linux version); on this platform it does nothing.
func (f *File) ReleaseTensor(name string) {}
