package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"hone/tensor"
)

// TensorSpec declares a tensor before its data is written.
type TensorSpec struct {
	Name  string
	Shape []int // row-major, outermost first
	Type  TensorType
}

// Writer streams a GGUF file: Create writes the header, WriteTensor /
// WriteF32 append each tensor's data in declaration order, and Close makes
// the file appear under its final name. Abort (or a failed Close) removes
// the temporary file and leaves any existing file untouched.
type Writer struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	align     int64
	specs     []TensorSpec
	sizes     []int64
	next      int   // index of the next tensor to write
	pos       int64 // bytes written
	err       error
}

// Create starts writing a GGUF v3 file at path with metadata meta and the
// tensors specs, which must then be written in order. The alignment is
// meta's general.alignment if set (a power of two, uint32), otherwise 32.
// general.quantization_version is added when a tensor is quantised and meta
// lacks it.
func Create(path string, meta *Metadata, specs []TensorSpec) (*Writer, error) {
	if meta == nil {
		meta = &Metadata{}
	}
	align := int64(DefaultAlignment)
	if v, ok := meta.Get(KeyAlignment); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: %s: key %q must be a uint32 power of two, is %s %v", path, KeyAlignment, describe(v), v)
		}
		align = int64(a)
	}
	sizes := make([]int64, len(specs))
	seen := map[string]bool{}
	quantised := false
	for i, s := range specs {
		size, err := s.check()
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", path, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("gguf: %s: duplicate tensor name %q", path, s.Name)
		}
		seen[s.Name] = true
		sizes[i] = size
		if _, q := s.Type.format(); q {
			quantised = true
		}
	}
	if quantised && !meta.Has(KeyQuantizationVersion) {
		m := &Metadata{}
		for _, kv := range meta.kvs {
			m.Set(kv.Key, kv.Value) // already validated
		}
		m.Set(KeyQuantizationVersion, uint32(QuantizationVersion))
		meta = m
	}

	// the temporary goes beside path, so that Close renames within one
	// filesystem; an empty dir would mean os.TempDir, not the working folder
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<20), align: align,
		specs: append([]TensorSpec(nil), specs...), sizes: sizes}
	w.header(meta)
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	return w, nil
}

// check validates a spec and returns its data size in bytes.
func (s TensorSpec) check() (int64, error) {
	if s.Name == "" || len(s.Name) > MaxNameLen {
		return 0, fmt.Errorf("tensor name %q: want 1 to %d bytes", s.Name, MaxNameLen)
	}
	if !s.Type.Known() {
		return 0, fmt.Errorf("tensor %q: unknown type %s", s.Name, s.Type)
	}
	if len(s.Shape) == 0 || len(s.Shape) > MaxDims {
		return 0, fmt.Errorf("tensor %q: shape %v: want 1 to %d dimensions", s.Name, s.Shape, MaxDims)
	}
	n := int64(1)
	for _, d := range s.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/16/int64(d)) {
			return 0, fmt.Errorf("tensor %q: bad shape %v", s.Name, s.Shape)
		}
		n *= int64(d)
	}
	if bl := s.Type.BlockLen(); s.Shape[len(s.Shape)-1]%bl != 0 {
		return 0, fmt.Errorf("tensor %q of type %s: rows of %d elements are not a multiple of the block size %d",
			s.Name, s.Type, s.Shape[len(s.Shape)-1], bl)
	}
	return n / int64(s.Type.BlockLen()) * int64(s.Type.BlockBytes()), nil
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(b)
	w.pos += int64(n)
	if err != nil {
		w.err = fmt.Errorf("gguf: writing %s: %w", w.path, err)
	}
}

func (w *Writer) u32(v uint32) { w.write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *Writer) u64(v uint64) { w.write(binary.LittleEndian.AppendUint64(nil, v)) }
func (w *Writer) str(s string) { w.u64(uint64(len(s))); w.write([]byte(s)) }

func (w *Writer) pad() {
	if r := w.pos % w.align; r != 0 {
		w.write(make([]byte, w.align-r))
	}
}

func (w *Writer) header(meta *Metadata) {
	w.write([]byte(Magic))
	w.u32(Version)
	w.u64(uint64(len(w.specs)))
	w.u64(uint64(meta.Len()))
	for _, kv := range meta.KVs() {
		w.str(kv.Key)
		t, _ := valueType(kv.Value, 0)
		w.u32(uint32(t))
		w.value(kv.Value)
	}
	var off int64
	for i, s := range w.specs {
		w.str(s.Name)
		w.u32(uint32(len(s.Shape)))
		for j := len(s.Shape) - 1; j >= 0; j-- {
			w.u64(uint64(s.Shape[j]))
		}
		w.u32(uint32(s.Type))
		w.u64(uint64(off))
		off += alignUp(w.sizes[i], w.align)
	}
	w.pad()
}

// value encodes v (whose type tag, for a top-level pair, is already
// written). An array writes its element type and length, then elements.
func (w *Writer) value(v any) {
	le := binary.LittleEndian
	switch v := v.(type) {
	case uint8:
		w.write([]byte{v})
	case int8:
		w.write([]byte{byte(v)})
	case uint16:
		w.write(le.AppendUint16(nil, v))
	case int16:
		w.write(le.AppendUint16(nil, uint16(v)))
	case uint32:
		w.u32(v)
	case int32:
		w.u32(uint32(v))
	case float32:
		w.u32(math.Float32bits(v))
	case bool:
		if v {
			w.write([]byte{1})
		} else {
			w.write([]byte{0})
		}
	case string:
		w.str(v)
	case uint64:
		w.u64(v)
	case int64:
		w.u64(uint64(v))
	case float64:
		w.u64(math.Float64bits(v))
	case Arrays:
		w.u32(uint32(TypeArray))
		w.u64(uint64(len(v)))
		for _, e := range v {
			w.value(e)
		}
	default:
		w.u32(uint32(elemType(v)))
		switch s := v.(type) {
		case []uint8:
			w.u64(uint64(len(s)))
			w.write(s)
		case []int8:
			writeSlice(w, s)
		case []uint16:
			writeSlice(w, s)
		case []int16:
			writeSlice(w, s)
		case []uint32:
			writeSlice(w, s)
		case []int32:
			writeSlice(w, s)
		case []float32:
			writeSlice(w, s)
		case []bool:
			writeSlice(w, s)
		case []string:
			writeSlice(w, s)
		case []uint64:
			writeSlice(w, s)
		case []int64:
			writeSlice(w, s)
		case []float64:
			writeSlice(w, s)
		}
	}
}

func writeSlice[E any](w *Writer, s []E) {
	w.u64(uint64(len(s)))
	for _, e := range s {
		w.value(e)
	}
}

// WriteTensor writes the stored bytes of the next declared tensor, which
// must be called name and hold exactly its size.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if err := w.expect(name); err != nil {
		return err
	}
	if int64(len(data)) != w.sizes[w.next] {
		return w.fail(fmt.Errorf("gguf: %s: tensor %q: %d bytes, want %d for %s %v", w.path, name, len(data), w.sizes[w.next], w.specs[w.next].Type, w.specs[w.next].Shape))
	}
	w.write(data)
	w.pad()
	w.next++
	return w.err
}

// WriteF32 converts x to the next declared tensor's type (F32, F16, BF16
// rounding to nearest even; Q8_0, Q4_0, Q4_K as ggml quantises) and writes
// it. The tensor must be called name and have len(x) elements.
func (w *Writer) WriteF32(name string, x []float32) error {
	if err := w.expect(name); err != nil {
		return err
	}
	s := w.specs[w.next]
	if n := w.sizes[w.next] / int64(s.Type.BlockBytes()) * int64(s.Type.BlockLen()); int64(len(x)) != n {
		return w.fail(fmt.Errorf("gguf: %s: tensor %q: %d values, want %d for shape %v", w.path, name, len(x), n, s.Shape))
	}
	buf := make([]byte, 0, min(w.sizes[w.next], 1<<20))
	const chunk = 1 << 16 // elements per conversion chunk: a multiple of every block length
	for lo := 0; lo < len(x); lo += chunk {
		part := x[lo:min(lo+chunk, len(x))]
		buf = buf[:0]
		switch s.Type {
		case F32:
			for _, v := range part {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		case F16:
			for _, v := range part {
				buf = binary.LittleEndian.AppendUint16(buf, tensor.F32ToF16(v))
			}
		case BF16:
			for _, v := range part {
				buf = binary.LittleEndian.AppendUint16(buf, tensor.F32ToBF16(v))
			}
		default:
			qf, ok := s.Type.format()
			if !ok {
				return w.fail(fmt.Errorf("gguf: %s: tensor %q: cannot convert float32 to %s", w.path, name, s.Type))
			}
			buf = buf[:qf.RowBytes(len(part))]
			if err := qf.QuantizeRow(buf, part); err != nil {
				return w.fail(fmt.Errorf("gguf: %s: tensor %q: %w", w.path, name, err))
			}
		}
		w.write(buf)
	}
	w.pad()
	w.next++
	return w.err
}

// WriteTensorFrom writes the next declared tensor from a hone tensor of the
// same element count: raw bytes when the dtypes match (F32, F16, BF16),
// converted through float32 otherwise.
func (w *Writer) WriteTensorFrom(name string, t *tensor.Tensor) error {
	if w.next < len(w.specs) {
		s := w.specs[w.next]
		if (s.Type == F32 && t.DType == tensor.F32) || (s.Type == F16 && t.DType == tensor.F16) || (s.Type == BF16 && t.DType == tensor.BF16) {
			return w.WriteTensor(name, t.Data[:t.Numel()*t.DType.Size()])
		}
	}
	return w.WriteF32(name, t.ToF32().F32())
}

func (w *Writer) expect(name string) error {
	if w.err != nil {
		return w.err
	}
	if w.next >= len(w.specs) {
		return w.fail(fmt.Errorf("gguf: %s: tensor %q written after all %d declared tensors", w.path, name, len(w.specs)))
	}
	if want := w.specs[w.next].Name; name != want {
		return w.fail(fmt.Errorf("gguf: %s: tensor %q written where %q (tensor %d) is due", w.path, name, want, w.next))
	}
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// Close checks every declared tensor was written, flushes and syncs the
// file and renames it into place. On any error the temporary file is
// removed.
func (w *Writer) Close() error {
	if w.f == nil {
		return w.err
	}
	if w.err == nil && w.next != len(w.specs) {
		w.err = fmt.Errorf("gguf: %s: %d of %d declared tensors written (next: %q)", w.path, w.next, len(w.specs), w.specs[w.next].Name)
	}
	if w.err == nil {
		if err := w.w.Flush(); err != nil {
			w.err = fmt.Errorf("gguf: writing %s: %w", w.path, err)
		}
	}
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("gguf: syncing %s: %w", w.path, err)
		}
	}
	cerr := w.f.Close()
	w.f = nil
	if w.err == nil && cerr != nil {
		w.err = fmt.Errorf("gguf: closing %s: %w", w.path, cerr)
	}
	if w.err == nil {
		if err := os.Chmod(w.tmp, 0o644); err != nil {
			w.err = fmt.Errorf("gguf: %w", err)
		}
	}
	if w.err == nil {
		if err := os.Rename(w.tmp, w.path); err != nil {
			w.err = fmt.Errorf("gguf: %w", err)
		}
	}
	if w.err != nil {
		os.Remove(w.tmp)
	}
	return w.err
}

// Abort abandons the file: the temporary file is removed and nothing
// appears at the destination.
func (w *Writer) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.tmp)
	if w.err == nil {
		w.err = errors.New("gguf: writer aborted")
	}
}
