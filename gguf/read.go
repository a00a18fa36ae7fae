package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"os"
	"unicode/utf8"

	"hone/tensor"
)

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Shape  []int      // row-major, outermost first (ggml's ne reversed)
	Type   TensorType // ggml type
	Offset int64      // of the data, from the start of the data section
	Size   int64      // bytes of data
}

// Numel returns the number of elements.
func (ti *TensorInfo) Numel() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// File is a parsed GGUF file: header, metadata, tensor infos, and the bytes
// of the data section (memory-mapped by Open).
type File struct {
	Path       string
	Version    uint32
	Alignment  int
	Meta       Metadata
	Tensors    []TensorInfo
	DataOffset int64 // start of the data section in the file

	data   []byte // the whole file
	unmap  func() error
	byName map[string]int
}

// Open maps the file at path read-only and parses it. Close releases it.
func Open(path string) (*File, error) {
	b, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := Parse(path, b)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the file's mapping. Tensors that alias it must not be used
// afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// reader is a bounds-checked little-endian cursor over the file bytes.
type reader struct {
	name string
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("gguf: %s: at byte %d: %s", r.name, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.fail("%s needs %d bytes, %d left", what, n, r.left())
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if s := r.take(1, what); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if s := r.take(2, what); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if s := r.take(4, what); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if s := r.take(8, what); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

// count reads a uint64 count of items of at least minSize bytes each and
// checks the rest of the file can hold them.
func (r *reader) count(what string, minSize int) int {
	n := r.u64(what)
	if r.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(r.left()/minSize) {
		r.fail("%s is %d, more than the %d bytes left can hold", what, n, r.left())
		return 0
	}
	return int(n)
}

func (r *reader) str(what string) string {
	n := r.count(what+" length", 1)
	s := r.take(n, what)
	return string(s)
}

// Parse parses GGUF bytes; name is used in errors. The File aliases b.
func Parse(name string, b []byte) (*File, error) {
	r := &reader{name: name, b: b}
	f := &File{Path: name, data: b, Alignment: DefaultAlignment, byName: map[string]int{}}
	if m := r.take(4, "magic"); r.err == nil && string(m) != Magic {
		return nil, fmt.Errorf("gguf: %s: not a GGUF file (magic %q)", name, m)
	}
	f.Version = r.u32("version")
	if r.err == nil {
		switch {
		case f.Version&0xffff == 0 && f.Version != 0:
			return nil, fmt.Errorf("gguf: %s: version %#x: big-endian GGUF files are not supported", name, f.Version)
		case f.Version < 2 || f.Version > Version:
			return nil, fmt.Errorf("gguf: %s: version %d: want 2 or 3", name, f.Version)
		}
	}
	nTensors := r.count("tensor count", 8+4+4+8)
	nKV := r.count("metadata count", 8+1+4)
	if r.err != nil {
		return nil, r.err
	}
	for i := range nKV {
		key := r.str(fmt.Sprintf("key of metadata pair %d", i))
		if r.err != nil {
			return nil, r.err
		}
		if key == "" {
			r.fail("metadata pair %d has an empty key", i)
			return nil, r.err
		}
		if !utf8.ValidString(key) {
			r.fail("metadata pair %d: key %q is not UTF-8", i, key)
			return nil, r.err
		}
		if f.Meta.Has(key) {
			r.fail("duplicate metadata key %q", key)
			return nil, r.err
		}
		t := ValueType(r.u32(fmt.Sprintf("type of key %q", key)))
		v := r.value(t, key, 0)
		if r.err != nil {
			return nil, r.err
		}
		if err := f.Meta.Set(key, v); err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", name, err)
		}
	}
	if v, ok := f.Meta.Get(KeyAlignment); ok {
		a, isU32 := v.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("gguf: %s: key %q holds %s, want uint32", name, KeyAlignment, describe(v))
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: %s: key %q is %d, want a power of two", name, KeyAlignment, a)
		}
		f.Alignment = int(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := range nTensors {
		ti := r.tensorInfo(i)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.byName[ti.Name]; dup {
			return nil, fmt.Errorf("gguf: %s: duplicate tensor name %q", name, ti.Name)
		}
		f.byName[ti.Name] = i
		f.Tensors = append(f.Tensors, ti)
	}
	start := int64(r.off)
	if nTensors > 0 {
		start = alignUp(start, int64(f.Alignment))
	}
	f.DataOffset = start
	dataLen := int64(len(b)) - start
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Offset%int64(f.Alignment) != 0 {
			return nil, fmt.Errorf("gguf: %s: tensor %q: data offset %d is not a multiple of the alignment %d", name, ti.Name, ti.Offset, f.Alignment)
		}
		if ti.Offset > dataLen || ti.Size > dataLen-ti.Offset {
			return nil, fmt.Errorf("gguf: %s: tensor %q: %d bytes at data offset %d run past the end of the file (data section holds %d bytes)",
				name, ti.Name, ti.Size, ti.Offset, max(dataLen, 0))
		}
	}
	return f, nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// value reads one value of type t for key.
func (r *reader) value(t ValueType, key string, depth int) any {
	what := fmt.Sprintf("value of key %q", key)
	switch t {
	case TypeUint8:
		return r.u8(what)
	case TypeInt8:
		return int8(r.u8(what))
	case TypeUint16:
		return r.u16(what)
	case TypeInt16:
		return int16(r.u16(what))
	case TypeUint32:
		return r.u32(what)
	case TypeInt32:
		return int32(r.u32(what))
	case TypeFloat32:
		return math.Float32frombits(r.u32(what))
	case TypeBool:
		return r.boolean(key)
	case TypeString:
		return r.str(what)
	case TypeUint64:
		return r.u64(what)
	case TypeInt64:
		return int64(r.u64(what))
	case TypeFloat64:
		return math.Float64frombits(r.u64(what))
	case TypeArray:
		if depth >= maxNesting {
			r.fail("key %q: arrays nested deeper than %d", key, maxNesting)
			return nil
		}
		et := ValueType(r.u32(fmt.Sprintf("element type of key %q", key)))
		if r.err == nil && et > TypeFloat64 {
			r.fail("key %q: unknown array element type %d", key, uint32(et))
			return nil
		}
		n := r.count(fmt.Sprintf("length of array %q", key), et.minSize())
		if r.err != nil {
			return nil
		}
		return r.array(et, n, key, depth)
	}
	r.fail("key %q: unknown value type %d", key, uint32(t))
	return nil
}

func (r *reader) boolean(key string) bool {
	b := r.u8(fmt.Sprintf("value of key %q", key))
	if b > 1 {
		r.fail("key %q: bool byte is %d, want 0 or 1", key, b)
	}
	return b == 1
}

func readFixed[E any](r *reader, n, size int, key string, get func([]byte) E) []E {
	s := r.take(n*size, fmt.Sprintf("array %q", key))
	if s == nil {
		return nil
	}
	out := make([]E, n)
	for i := range out {
		out[i] = get(s[i*size:])
	}
	return out
}

func (r *reader) array(et ValueType, n int, key string, depth int) any {
	le := binary.LittleEndian
	switch et {
	case TypeUint8:
		return readFixed(r, n, 1, key, func(b []byte) uint8 { return b[0] })
	case TypeInt8:
		return readFixed(r, n, 1, key, func(b []byte) int8 { return int8(b[0]) })
	case TypeUint16:
		return readFixed(r, n, 2, key, le.Uint16)
	case TypeInt16:
		return readFixed(r, n, 2, key, func(b []byte) int16 { return int16(le.Uint16(b)) })
	case TypeUint32:
		return readFixed(r, n, 4, key, le.Uint32)
	case TypeInt32:
		return readFixed(r, n, 4, key, func(b []byte) int32 { return int32(le.Uint32(b)) })
	case TypeFloat32:
		return readFixed(r, n, 4, key, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	case TypeUint64:
		return readFixed(r, n, 8, key, le.Uint64)
	case TypeInt64:
		return readFixed(r, n, 8, key, func(b []byte) int64 { return int64(le.Uint64(b)) })
	case TypeFloat64:
		return readFixed(r, n, 8, key, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) })
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = r.boolean(key)
		}
		return out
	case TypeString:
		out := make([]string, n)
		for i := range out {
			out[i] = r.str(fmt.Sprintf("element %d of array %q", i, key))
			if r.err != nil {
				return nil
			}
		}
		return out
	}
	// TypeArray: an array of arrays
	out := make(Arrays, n)
	for i := range out {
		out[i] = r.value(TypeArray, key, depth+1)
		if r.err != nil {
			return nil
		}
	}
	return out
}

// tensorInfo reads and validates the i-th tensor info.
func (r *reader) tensorInfo(i int) TensorInfo {
	var ti TensorInfo
	ti.Name = r.str(fmt.Sprintf("name of tensor %d", i))
	if r.err != nil {
		return ti
	}
	if ti.Name == "" || len(ti.Name) > MaxNameLen {
		r.fail("tensor %d: name %q: want 1 to %d bytes", i, ti.Name, MaxNameLen)
		return ti
	}
	nd := r.u32(fmt.Sprintf("dimension count of tensor %q", ti.Name))
	if r.err == nil && nd > MaxDims {
		r.fail("tensor %q has %d dimensions, at most %d allowed", ti.Name, nd, MaxDims)
		return ti
	}
	ne := make([]uint64, nd)
	for j := range ne {
		ne[j] = r.u64(fmt.Sprintf("dimension %d of tensor %q", j, ti.Name))
	}
	ti.Type = TensorType(r.u32(fmt.Sprintf("type of tensor %q", ti.Name)))
	off := r.u64(fmt.Sprintf("offset of tensor %q", ti.Name))
	if r.err != nil {
		return ti
	}
	if !ti.Type.Known() {
		r.fail("tensor %q has unknown or unsupported ggml type %d", ti.Name, uint32(ti.Type))
		return ti
	}
	// element count and size must be representable, and so must every
	// dimension and every product of dimensions (a zero dimension must not
	// hide a huge one: [0, 1<<63] has no elements but a negative width);
	// the size is then checked against the file by the caller
	numel, span := uint64(1), uint64(1) // span: the product of the non-zero dimensions
	for _, d := range ne {
		hi, lo := bits.Mul64(span, max(d, 1))
		if hi != 0 || lo > math.MaxInt64/16 {
			r.fail("tensor %q: dimensions %v are too large (their product must stay below %d)", ti.Name, ne, uint64(math.MaxInt64/16))
			return ti
		}
		span = lo
		numel *= d // no larger than span
	}
	bl := uint64(ti.Type.BlockLen())
	if nd > 0 && ne[0]%bl != 0 {
		r.fail("tensor %q of type %s: rows of %d elements are not a multiple of the block size %d", ti.Name, ti.Type, ne[0], bl)
		return ti
	}
	if nd == 0 && bl != 1 {
		r.fail("tensor %q of type %s has no dimensions", ti.Name, ti.Type)
		return ti
	}
	if off > math.MaxInt64 {
		r.fail("tensor %q: offset %d out of range", ti.Name, off)
		return ti
	}
	ti.Size = int64(numel / bl * uint64(ti.Type.BlockBytes()))
	ti.Offset = int64(off)
	ti.Shape = make([]int, nd)
	for j, d := range ne {
		ti.Shape[int(nd)-1-j] = int(d)
	}
	return ti
}

// Info returns the info of the tensor called name.
func (f *File) Info(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Raw returns the stored bytes of tensor name, aliasing the file.
func (f *File) Raw(name string) ([]byte, error) {
	ti, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor %q", f.Path, name)
	}
	if f.data == nil {
		return nil, fmt.Errorf("gguf: %s: file is closed", f.Path)
	}
	o := f.DataOffset + ti.Offset
	return f.data[o : o+ti.Size : o+ti.Size], nil
}

// Tensor returns tensor name as a hone tensor. F32, F16 and BF16 data is
// returned as stored, aliasing the file's read-only mapping (do not write
// to it; Clone it to own it). Q8_0, Q4_0 and Q4_K data is dequantised into a
// new F32 tensor.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	ti, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor %q", f.Path, name)
	}
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	var dt tensor.DType
	switch ti.Type {
	case F32:
		dt = tensor.F32
	case F16:
		dt = tensor.F16
	case BF16:
		dt = tensor.BF16
	default:
		qf, ok := ti.Type.format()
		if !ok {
			return nil, fmt.Errorf("gguf: %s: tensor %q has type %s, which hone cannot decode", f.Path, name, ti.Type)
		}
		out := tensor.New(tensor.F32, ti.Shape...)
		if err := qf.DequantizeRow(out.F32(), raw); err != nil {
			return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Path, name, err)
		}
		return out, nil
	}
	if len(raw) > 0 && uintptrOf(raw)%uintptr(dt.Size()) != 0 {
		raw = append([]byte(nil), raw...) // misaligned (odd alignment in a hostile file): copy
	}
	return tensor.FromBytes(dt, raw, ti.Shape...)
}

// TensorF32 returns tensor name converted to float32 in a new tensor,
// whatever its stored type (F32 data is copied).
func (f *File) TensorF32(name string) (*tensor.Tensor, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if t.DType == tensor.F32 {
		if ti, _ := f.Info(name); ti.Type == F32 {
			return t.Clone(), nil
		}
		return t, nil
	}
	return t.ToF32(), nil
}

func readAll(path string) ([]byte, error) { return os.ReadFile(path) }
