package tensor

import "fmt"

// ToF32 returns the tensor as F32: t itself when it already is, otherwise a
// converted copy. Integer dtypes convert by value.
func (t *Tensor) ToF32() *Tensor {
	if t.DType == F32 {
		return t
	}
	out := New(F32, t.Shape...)
	t.widen(out.F32())
	return out
}

// widen sets dst (t.Numel() long) to t's values as float32s.
func (t *Tensor) widen(dst []float32) {
	switch t.DType {
	case F32:
		copy(dst, t.F32())
	case BF16:
		for i, h := range t.BF16() {
			dst[i] = BF16ToF32(h)
		}
	case F16:
		for i, h := range t.F16() {
			dst[i] = F16ToF32(h)
		}
	case F64:
		for i, v := range t.F64() {
			dst[i] = float32(v)
		}
	case I64:
		for i, v := range t.I64() {
			dst[i] = float32(v)
		}
	case I32:
		for i, v := range t.I32() {
			dst[i] = float32(v)
		}
	case U8:
		for i, v := range t.U8() {
			dst[i] = float32(v)
		}
	default:
		panic(fmt.Sprintf("tensor.ToF32: cannot convert %v", t))
	}
}

// To returns the tensor converted to the float dtype dt (F32, BF16, F16 or
// F64), rounding to nearest even; t itself when it already has that dtype.
func (t *Tensor) To(dt DType) *Tensor {
	if t.DType == dt {
		return t
	}
	out := New(dt, t.Shape...)
	t.CopyTo(out)
	return out
}

// CopyTo sets dst, a float tensor (F32, BF16, F16 or F64) of as many
// elements as t, to t's values converted to dst's dtype (rounding to
// nearest even), or copies them when the dtypes agree.
func (t *Tensor) CopyTo(dst *Tensor) {
	if n, m := t.Numel(), dst.Numel(); n != m {
		panic(fmt.Sprintf("tensor.CopyTo: %v into %v", t, dst))
	}
	if t.DType == dst.DType {
		copy(dst.Data, t.Data)
		return
	}
	if dst.DType == F32 {
		t.widen(dst.F32())
		return
	}
	src := t.ToF32().F32()
	switch dst.DType {
	case BF16:
		d := dst.BF16()
		for i, v := range src {
			d[i] = F32ToBF16(v)
		}
	case F16:
		d := dst.F16()
		for i, v := range src {
			d[i] = F32ToF16(v)
		}
	case F64:
		d := dst.F64()
		for i, v := range src {
			d[i] = float64(v)
		}
	default:
		panic(fmt.Sprintf("tensor.CopyTo: cannot convert %v to %v", t, dst.DType))
	}
}

// Int64s returns the values of an integer tensor as int64s (a copy).
func (t *Tensor) Int64s() []int64 {
	out := make([]int64, t.Numel())
	switch t.DType {
	case I64:
		copy(out, t.I64())
	case I32:
		for i, v := range t.I32() {
			out[i] = int64(v)
		}
	case U8:
		for i, v := range t.U8() {
			out[i] = int64(v)
		}
	default:
		panic(fmt.Sprintf("tensor.Int64s: %v is not an integer tensor", t))
	}
	return out
}
