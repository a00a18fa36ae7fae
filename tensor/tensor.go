package tensor

import (
	"fmt"
	"unsafe"
)

// Tensor is a dense, row-major tensor. Data holds Numel()*DType.Size() bytes
// in little-endian order. A Tensor made by a loader may alias a read-only
// memory map: writing to such a tensor faults, so loaders document which
// tensors are frozen.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// New returns a zeroed tensor of the given dtype and shape. The storage is
// allocated with the alignment of an 8-byte word, so typed views are aligned.
func New(dt DType, shape ...int) *Tensor {
	n := numel(shape)
	words := (n*dt.Size() + 7) / 8
	buf := make([]uint64, words)
	var data []byte
	if words > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), n*dt.Size())
	}
	return &Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: data}
}

// FromF32 wraps v (without copying) as an F32 tensor of the given shape.
func FromF32(v []float32, shape ...int) *Tensor {
	if numel(shape) != len(v) {
		panic(fmt.Sprintf("tensor.FromF32: %d values for shape %v", len(v), shape))
	}
	return &Tensor{DType: F32, Shape: append([]int(nil), shape...), Data: bytesOf(v)}
}

// FromBF16 wraps v (without copying) as a BF16 tensor of the given shape.
func FromBF16(v []uint16, shape ...int) *Tensor {
	if numel(shape) != len(v) {
		panic(fmt.Sprintf("tensor.FromBF16: %d values for shape %v", len(v), shape))
	}
	return &Tensor{DType: BF16, Shape: append([]int(nil), shape...), Data: bytesOf(v)}
}

// FromBytes wraps raw little-endian storage as a tensor after checking that
// its length matches the shape. It does not copy.
func FromBytes(dt DType, data []byte, shape ...int) (*Tensor, error) {
	if want := numel(shape) * dt.Size(); want != len(data) {
		return nil, fmt.Errorf("%s tensor of shape %v needs %d bytes, have %d", dt, shape, want, len(data))
	}
	return &Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: data}, nil
}

func bytesOf[E any](v []E) []byte {
	if len(v) == 0 {
		return nil
	}
	var e E
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(e)))
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return numel(t.Shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Rows returns the product of all dimensions but the last: the number of rows
// when the tensor is seen as a matrix.
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return numel(t.Shape[:len(t.Shape)-1])
}

// Cols returns the last dimension (1 for a scalar).
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

// String describes the tensor's dtype and shape, e.g. "BF16[576 1536]".
func (t *Tensor) String() string { return fmt.Sprintf("%s%v", t.DType, t.Shape) }

func view[E any](t *Tensor, want DType) []E {
	if t.DType != want {
		panic(fmt.Sprintf("tensor: %v viewed as %v", t, want))
	}
	n := t.Numel()
	if n == 0 {
		return nil
	}
	if len(t.Data) < n*want.Size() {
		panic(fmt.Sprintf("tensor: %v has %d bytes of storage", t, len(t.Data)))
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&t.Data[0])), n)
}

// F32 views the storage as float32 values.
func (t *Tensor) F32() []float32 { return view[float32](t, F32) }

// F64 views the storage as float64 values.
func (t *Tensor) F64() []float64 { return view[float64](t, F64) }

// BF16 views the storage as raw bfloat16 values.
func (t *Tensor) BF16() []uint16 { return view[uint16](t, BF16) }

// F16 views the storage as raw IEEE half values.
func (t *Tensor) F16() []uint16 { return view[uint16](t, F16) }

// I64 views the storage as int64 values.
func (t *Tensor) I64() []int64 { return view[int64](t, I64) }

// I32 views the storage as int32 values.
func (t *Tensor) I32() []int32 { return view[int32](t, I32) }

// U8 views the storage as bytes.
func (t *Tensor) U8() []uint8 { return view[uint8](t, U8) }

// Reshape returns a view with a new shape of the same element count. One
// dimension may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic("tensor.Reshape: more than one -1")
			}
			infer = i
			continue
		}
		known *= d
	}
	n := t.Numel()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor.Reshape: %v to %v", t, shape))
		}
		shape[infer] = n / known
	}
	if numel(shape) != n {
		panic(fmt.Sprintf("tensor.Reshape: %v to %v", t, shape))
	}
	return &Tensor{DType: t.DType, Shape: shape, Data: t.Data}
}

// Slice returns a view of rows [lo, hi) along the first dimension.
func (t *Tensor) Slice(lo, hi int) *Tensor {
	return t.SliceTo(&Tensor{}, lo, hi)
}

// SliceTo makes v the view that Slice(lo, hi) returns, reusing v's shape
// storage, and returns v: a loop that takes the same views on every step
// (a decoding step's cache rows) allocates nothing.
func (t *Tensor) SliceTo(v *Tensor, lo, hi int) *Tensor {
	if len(t.Shape) == 0 || lo < 0 || hi > t.Shape[0] || lo > hi {
		panic(fmt.Sprintf("tensor.Slice(%d, %d) of %v", lo, hi, t))
	}
	row := numel(t.Shape[1:]) * t.DType.Size()
	shape := append(append(v.Shape[:0], hi-lo), t.Shape[1:]...)
	*v = Tensor{DType: t.DType, Shape: shape, Data: t.Data[lo*row : hi*row : hi*row]}
	return v
}

// Clone returns a deep copy with its own storage.
func (t *Tensor) Clone() *Tensor {
	c := New(t.DType, t.Shape...)
	copy(c.Data, t.Data)
	return c
}

// Zero sets every element to zero.
func (t *Tensor) Zero() { clear(t.Data) }

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool {
	if len(t.Shape) != len(u.Shape) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return true
}
