package cpu

import (
	"fmt"
	"runtime"

	"hone/compute"
	"hone/compute/ref"
	"hone/tensor"
)

// Engine is the fast CPU compute.Engine. It embeds the reference engine, so
// every op it does not specialise is the reference one; the ones it does
// are tested against it. An Engine is safe for concurrent use: its scratch
// comes from pools and its worker pool takes tasks from any caller.
type Engine struct {
	ref.Engine
	threads int
	pool    *pool
	kern    kernels
	frozen  frozenSet
}

var _ compute.Engine = (*Engine)(nil)

// New returns an engine that runs on threads goroutines (the caller's and
// threads-1 persistent workers); threads <= 0 means runtime.NumCPU(). It
// uses the widest kernels the CPU supports: AVX-512 (with AVX512_BF16 for
// bf16 products), AVX2 with FMA, or portable Go.
func New(threads int) *Engine {
	return newWithKernels(threads, availableKernels()[0])
}

// newWithKernels is New with a given kernel set (tests run every set the
// CPU supports).
func newWithKernels(threads int, k kernels) *Engine {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	read := func(x []float32) float32 { return dot(k.vec, x, x) }
	return &Engine{threads: threads, pool: newPool(threads, read), kern: k, frozen: frozenSet{budget: DefaultFrozenBudget}}
}

// Close stops the engine's worker goroutines. The engine must not be used
// afterwards.
func (e *Engine) Close() { e.pool.close() }

// Name returns "cpu/" and the kernel set: "cpu/avx512", "cpu/avx2" or
// "cpu/generic".
func (e *Engine) Name() string { return "cpu/" + e.kern.name }

// Threads returns the number of threads the engine runs on.
func (e *Engine) Threads() int { return e.threads }

// BF16Native reports whether products with a BF16 b run in bf16 with fp32
// accumulation (VDPBF16PS); otherwise b is widened to float32 as it is
// packed and the product runs in float32.
func (e *Engine) BF16Native() bool { return e.kern.bf16 != nil }

// fail panics with a message naming the op: a broken invariant inside the
// engine (wrong shapes or dtypes passed by model code), not bad user input.
func fail(op, format string, args ...any) {
	panic(fmt.Sprintf("cpu.%s: %s", op, fmt.Sprintf(format, args...)))
}

// f32 returns the float32 view of t, which must be F32.
func f32(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	if t.DType != tensor.F32 {
		fail(op, "%s is %v, want F32", name, t)
	}
	return t.F32()
}

// MatMul computes op(a)·op(b) into c, or adds it when acc is set; a and c
// are F32, b is F32 or BF16 (an F16 b goes to the reference engine). With
// a BF16 b and a CPU with AVX512_BF16, a is rounded to bf16 as it is packed
// and the products accumulate in float32 (the bf16 compute mode); products
// of at most 4 rows (decoding) read b in place, and round a to bf16 too
// when b is stored [n, k] with k a multiple of 32, otherwise multiply a in
// float32 by b widened exactly. See compute.MatMuler.
func (e *Engine) MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool) {
	const op = "MatMul"
	cv, av := f32(op, "c", c), f32(op, "a", a)
	m, n := c.Rows(), c.Cols()
	k, am := a.Cols(), a.Rows()
	if ta {
		k, am = a.Rows(), a.Cols()
	}
	if am != m {
		fail(op, "a %v (ta=%v) does not give %d rows for c %v", a, ta, m, c)
	}
	if b == nil {
		fail(op, "b is nil")
	}
	bk, bn := b.Rows(), b.Cols()
	if tb {
		bk, bn = b.Cols(), b.Rows()
	}
	if bk != k || bn != n {
		fail(op, "b %v (tb=%v) is not %d x %d for a %v (ta=%v) and c %v", b, tb, k, n, a, ta, c)
	}
	ao := operand{f: av, ld: a.Cols(), t: ta}
	bo := operand{ld: b.Cols(), t: tb}
	switch b.DType {
	case tensor.F32:
		bo.f = b.F32()
	case tensor.BF16:
		bo.h = b.BF16()
		if m > gemvRows {
			bo.pre = e.frozenPanels(b, tb, n, k)
		}
	default:
		e.Engine.MatMul(c, a, b, ta, tb, acc)
		return
	}
	e.gemm(m, n, k, ao, bo, cv, n, acc)
}
