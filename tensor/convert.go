package tensor

import "fmt"

// ToF32 returns the tensor as F32: t itself when it already is, otherwise a
// converted copy. Integer dtypes convert by value.
func (t *Tensor) ToF32() *Tensor {
	if t.DType == F32 {
		return t
	}
	out := New(F32, t.Shape...)
	dst := out.F32()
	switch t.DType {
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
	return out
}

// To returns the tensor converted to the float dtype dt (F32, BF16, F16 or
// F64), rounding to nearest even; t itself when it already has that dtype.
func (t *Tensor) To(dt DType) *Tensor {
	if t.DType == dt {
		return t
	}
	src := t.ToF32().F32()
	out := New(dt, t.Shape...)
	switch dt {
	case F32:
		copy(out.F32(), src)
	case BF16:
		d := out.BF16()
		for i, v := range src {
			d[i] = F32ToBF16(v)
		}
	case F16:
		d := out.F16()
		for i, v := range src {
			d[i] = F32ToF16(v)
		}
	case F64:
		d := out.F64()
		for i, v := range src {
			d[i] = float64(v)
		}
	default:
		panic(fmt.Sprintf("tensor.To: cannot convert %v to %v", t, dt))
	}
	return out
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
