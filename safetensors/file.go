package safetensors

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"unsafe"

	"hone/tensor"
)

// File is an open safetensors file. Its header is parsed and validated by
// Open; tensor data is touched only when Tensor is called, and then only by
// the caller reading the returned tensor (the operating system pages it in).
//
// A File is safe for concurrent use by several goroutines, except Close.
type File struct {
	path  string
	data  []byte // the whole file: a read-only memory map, or memory we own
	h     *header
	unmap func([]byte) error // releases data; nil when there is nothing to release
}

// Open opens the safetensors file at path: it maps the file read-only into
// memory (on unix; other platforms read it into memory) and parses and
// validates its header. A malformed or truncated file gives an error that
// names path and what is wrong.
//
// Tensors returned by the File alias the mapping: they are valid until Close
// and are read-only (writing to their Data faults). Clone a tensor that must
// be modified or outlive the File. If the file is truncated by another
// process while mapped, reading the lost pages faults; hone's own writers
// never modify a file in place (they write a new file and rename it).
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for the 8-byte header length", path, size)
	}
	if uint64(size) > uint64(maxMapBytes) {
		return nil, fmt.Errorf("%s: file is %d bytes, too large to map on this platform", path, size)
	}
	data, unmap, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf, err := newFile(path, data, unmap)
	if err != nil {
		if unmap != nil {
			unmap(data)
		}
		return nil, err
	}
	return sf, nil
}

// maxMapBytes is the largest file Open maps: the largest slice length.
const maxMapBytes = int64(^uint(0) >> 1)

// OpenBytes parses data, the bytes of a whole safetensors file, as if read
// from a file called name (used in error messages). Tensors alias data.
func OpenBytes(name string, data []byte) (*File, error) {
	return newFile(name, data, nil)
}

func newFile(path string, data []byte, unmap func([]byte) error) (*File, error) {
	h, err := parseHeader(path, data, int64(len(data)))
	if err != nil {
		return nil, err
	}
	return &File{path: path, data: data, h: h, unmap: unmap}, nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Names returns the names of the file's tensors, sorted.
func (f *File) Names() []string { return slices.Clone(f.h.names) }

// Len returns the number of tensors in the file.
func (f *File) Len() int { return len(f.h.names) }

// Info returns the dtype, shape and offsets of the named tensor as the header
// states them, without touching its data.
func (f *File) Info(name string) (TensorInfo, error) {
	ti, ok := f.h.infos[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	ti.Shape = slices.Clone(ti.Shape)
	return ti, nil
}

// Has reports whether the file holds a tensor called name.
func (f *File) Has(name string) bool {
	_, ok := f.h.infos[name]
	return ok
}

// Metadata returns a copy of the header's "__metadata__" map (nil when the
// file has none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.h.meta) }

// DataBytes returns the size of the file's data section: the sum of its
// tensors' sizes.
func (f *File) DataBytes() int64 { return int64(len(f.data)) - f.h.dataStart }

// Tensor returns the named tensor. It does not copy: the tensor's Data is a
// read-only view of the mapped file, valid until Close. Only when the data
// is not aligned to its element size within the file (which files written
// by hone or the Python library never are) is it copied into aligned memory,
// so that typed views stay valid. A dtype hone's tensor package lacks (BOOL,
// I16, the 8-bit floats, ...) is an error here, not at Open.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	ti, ok := f.h.infos[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	if f.data == nil {
		return nil, fmt.Errorf("%s: tensor %q: file is closed", f.path, name)
	}
	dt, err := ti.TensorDType()
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %v", f.path, name, err)
	}
	lo, hi := f.h.dataStart+ti.Begin, f.h.dataStart+ti.End
	b := f.data[lo:hi:hi]
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(dt.Size()) != 0 {
		t := tensor.New(dt, ti.Shape...)
		copy(t.Data, b)
		return t, nil
	}
	return &tensor.Tensor{DType: dt, Shape: slices.Clone(ti.Shape), Data: b}, nil
}

// Close releases the mapping. Tensors obtained from the File must not be
// used afterwards. Close is idempotent.
func (f *File) Close() error {
	data, unmap := f.data, f.unmap
	f.data, f.unmap = nil, nil
	if unmap == nil || data == nil {
		return nil
	}
	if err := unmap(data); err != nil {
		return fmt.Errorf("%s: unmap: %w", f.path, err)
	}
	return nil
}
