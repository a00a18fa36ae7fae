package ref

import (
	"fmt"
	"math"

	"hone/compute"
	"hone/tensor"
)

// Float is the element type of the generic reference functions: float32 for
// the engine, float64 for finite-difference gradient checks.
type Float interface {
	~float32 | ~float64
}

// Engine is the reference compute.Engine over F32 tensors, with BF16 weights
// widened on the fly. It has no state; its methods have value receivers so
// that a faster engine can embed it and inherit the ops it does not
// specialise.
type Engine struct{}

var _ compute.Engine = Engine{}

// Name returns "ref".
func (Engine) Name() string { return "ref" }

// fail panics with a message naming the op: a broken invariant inside the
// engine (wrong shapes or dtypes passed by model code), not bad user input.
func fail(op, format string, args ...any) {
	panic(fmt.Sprintf("ref.%s: %s", op, fmt.Sprintf(format, args...)))
}

// need panics through fail unless ok.
func need(ok bool, op, format string, args ...any) {
	if !ok {
		fail(op, format, args...)
	}
}

// needLen checks that slice x (operand name) holds at least n elements.
func needLen[F any](op, name string, x []F, n int) {
	if len(x) < n {
		fail(op, "%s has %d elements, need %d", name, len(x), n)
	}
}

// f32 returns the float32 view of t, which must be F32 (activations,
// gradients and saved statistics always are).
func f32(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	if t.DType != tensor.F32 {
		fail(op, "%s is %v, want F32", name, t)
	}
	return t.F32()
}

// f32OrNil is f32 for an optional tensor: nil gives nil.
func f32OrNil(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return f32(op, name, t)
}

// weightF32 returns a small weight (a norm weight or a bias) as float32
// values: a view when it is F32, a widened copy when it is BF16 or F16.
func weightF32(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	switch t.DType {
	case tensor.F32:
		return t.F32()
	case tensor.BF16:
		out := make([]float32, t.Numel())
		widen(out, t.BF16(), tensor.BF16ToF32)
		return out
	case tensor.F16:
		out := make([]float32, t.Numel())
		widen(out, t.F16(), tensor.F16ToF32)
		return out
	}
	fail(op, "%s is %v, want F32, BF16 or F16", name, t)
	return nil
}

// weightRows returns a function that yields row r of a [rows, cols] weight as
// float32 values: a view of F32 storage, or BF16 (or F16) storage widened
// into a scratch row that is reused by the next call.
func weightRows(op, name string, t *tensor.Tensor, rows, cols int) func(r int) []float32 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	need(t.Numel() == rows*cols, op, "%s is %v, want %d x %d elements", name, t, rows, cols)
	switch t.DType {
	case tensor.F32:
		w := t.F32()
		return func(r int) []float32 { return w[r*cols : (r+1)*cols : (r+1)*cols] }
	case tensor.BF16, tensor.F16:
		w, cvt := t.BF16, tensor.BF16ToF32
		if t.DType == tensor.F16 {
			w, cvt = t.F16, tensor.F16ToF32
		}
		halves := w()
		scratch := make([]float32, cols)
		return func(r int) []float32 {
			widen(scratch, halves[r*cols:(r+1)*cols], cvt)
			return scratch
		}
	}
	fail(op, "%s is %v, want F32, BF16 or F16", name, t)
	return nil
}

// widen converts half-precision values (bfloat16 or IEEE half, as cvt says)
// to float32, exactly.
func widen(dst []float32, src []uint16, cvt func(uint16) float32) {
	for i, h := range src[:len(dst)] {
		dst[i] = cvt(h)
	}
}

// exp returns e^x in F, computed in float64 and rounded once.
func exp[F Float](x F) F { return F(math.Exp(float64(x))) }
