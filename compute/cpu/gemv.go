package cpu

import (
	"sync"

	"hone/tensor"
)

// The few-row product: decoding multiplies one activation row (or a few)
// by every weight matrix of the model, so a token's time is that of
// streaming the weights from memory once. The product reads the weights in
// place, as stored, and splits them into chunks of rows sized in bytes:
// the caller takes the first part of them in order and the workers the
// rest, from where a worker has read ahead (readahead.go), and a thread
// that has run out of its own takes the others' from the back
// (pool.runSplit). Several products that read the same rows of A (the q,
// k and v projections; gate and up) share one pass and one barrier
// (MatMulShared, MatMulSwiGLU).

// gemvRows is the largest m that gemv handles: below a full micro-panel,
// packing b (every element of it, once per call) costs more than the
// product, which is bound by reading b anyway.
const gemvRows = 4

// gemvChunkBytes is about the weights of one task of a few-row pass.
// Each thread reads its own region of the pass chunk after chunk, one run
// of memory, and a thread that finishes first takes chunks from the back
// of the other's region (pool.runSplit), so that the threads finish about
// a chunk apart. On the 2-core Zen 4 machine, decoding the SmolLM2-135M
// shape token by token alternated with the scheme before (shares of up to
// 1 MiB, two a thread, the caller's from the front and the workers' from
// the back, gate and up in one share): 2.5-3.1% faster on the tokens where
// two threads read 50-55 GB/s and one half of that, 0.8-1.0% over all the
// tokens; 128 KiB chunks 2.0-2.8% and 1.0-1.9%, 32 KiB 2.9% slower where
// two threads read twice as fast as one. (Finer shares in the old scheme,
// or chunks holding the same rows of gate and up, two short interleaved
// streams, ran 20-37% slower there.)
const gemvChunkBytes = 64 << 10

// gemvKernel is a row kernel of the few-row product with bf16 weights:
// out[r] = q'·widen(w[r*ldw : r*ldw+k]) for r < nr, added to out[r] when
// acc is not 0, k a multiple of 32 and q' the activation row permuted by
// permuteEvenOdd.
type gemvKernel func(out, q *float32, w *uint16, ldw, nr, k, acc int)

// gemvDotKernel is a row kernel of the few-row product with bf16 weights
// in the bf16 mode (a CPU with AVX512_BF16): out[r] = q·w[r*ldw :
// r*ldw+k] for r < nr, added to out[r] when acc is not 0, with q the
// activation row rounded to bf16, fp32 sums and k a multiple of 32. It
// rounds the activations as the bf16 GEMM does when it packs them, and
// reads the weights at the speed of memory where widening them exactly
// (gemvKernel) could not keep up with it.
type gemvDotKernel func(out *float32, q, w *uint16, ldw, nr, k, acc int)

// permuteEvenOdd writes each block of 32 elements of src (len(src) a
// multiple of 32) into dst as its 16 even elements followed by its 16 odd
// ones, the order in which a bf16 row kernel widens the weights.
func permuteEvenOdd(dst, src []float32) {
	dst = dst[:len(src)]
	for c := 0; c+32 <= len(src); c += 32 {
		s, d := src[c:c+32], dst[c:c+32]
		for i := 0; i < 16; i++ {
			d[i] = s[2*i]
			d[16+i] = s[2*i+1]
		}
	}
}

// gemvPart is one product of a few-row pass: C (m x n, row stride ldc) =
// op(A)·op(B), or C += op(A)·op(B) when acc is set. Its output columns are
// cut into chunks of rows columns each.
type gemvPart struct {
	n        int
	b        operand
	c        []float32
	ldc      int
	acc      bool
	rows     int // columns of C a chunk
	first    int // index of the part's first chunk in the pass
	kernel   bool
	elemSize int
}

// gemvPass is one few-row pass: the m rows of op(A) (k long) and the
// products that read them. Passes come from a sync.Pool with their
// buffers, so that a decoding step allocates nothing.
type gemvPass struct {
	e     *Engine
	m, k  int
	rows  [gemvRows][]float32 // the rows of op(A)
	q     []float32           // the rows permuted for the row kernel
	qh    []uint16            // or rounded to bf16 for the dot kernel
	at    []float32           // a transposed op(A) copied into rows
	parts []gemvPart
	kern  gemvKernel
	dot   gemvDotKernel // used instead of kern when set
	task  func(int)     // the method value of do, made once
}

var gemvPasses = sync.Pool{New: func() any {
	g := &gemvPass{}
	g.task = g.do
	return g
}}

// newGemvPass starts a pass over the m rows (m <= gemvRows) of op(A) [m, k].
func (e *Engine) newGemvPass(m, k int, a operand) *gemvPass {
	g := gemvPasses.Get().(*gemvPass)
	g.e, g.m, g.k, g.kern, g.dot = e, m, k, bf16RowKernel(&e.kern), bf16DotKernel(&e.kern, k)
	g.parts = g.parts[:0]
	if a.t {
		g.at = grow(g.at, m*k)
		for i := 0; i < m; i++ {
			r := g.at[i*k : (i+1)*k]
			for p := range r {
				r[p] = a.f[p*a.ld+i]
			}
			g.rows[i] = r
		}
	} else {
		for i := 0; i < m; i++ {
			g.rows[i] = a.f[i*a.ld : i*a.ld+k]
		}
	}
	return g
}

// grow returns s resliced to n elements, reallocated when too short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// add adds the product of the pass's rows with op(B) (k x n) into C.
func (g *gemvPass) add(n int, b operand, c []float32, ldc int, acc bool) {
	p := gemvPart{n: n, b: b, c: c, ldc: ldc, acc: acc, elemSize: 4}
	if b.h != nil {
		p.elemSize = 2
		p.kernel = g.kern != nil && b.t && g.k%32 == 0
	}
	g.parts = append(g.parts, p)
}

// run computes every product added and returns the pass to its pool.
func (g *gemvPass) run() {
	e := g.e
	if g.kern != nil {
		for _, p := range g.parts {
			if !p.kernel {
				continue
			}
			if g.dot != nil {
				if cap(g.qh) < g.m*g.k {
					g.qh = make([]uint16, g.m*g.k)
				}
				g.qh = g.qh[:g.m*g.k]
				for i := 0; i < g.m; i++ {
					// VCVTNEPS2BF16, as the GEMM rounds a when it packs
					// it (k is a multiple of 32 here); a Go loop took
					// 1.5-4 µs a pass on the critical path
					g.e.kern.bf16.cvt(&g.qh[i*g.k], &g.rows[i][0], g.k)
				}
			} else {
				g.q = grow(g.q, g.m*g.k)
				for i := 0; i < g.m; i++ {
					permuteEvenOdd(g.q[i*g.k:(i+1)*g.k], g.rows[i])
				}
			}
			break
		}
	}
	var flops int
	for _, p := range g.parts {
		flops += 2 * g.m * p.n * g.k
	}
	parallel := flops >= parallelFlops && e.threads > 1
	tasks := 0
	for i := range g.parts {
		p := &g.parts[i]
		p.first = tasks
		p.rows = p.n
		if parallel {
			p.rows = chunkRows(p.n, g.k*p.elemSize, p.b.t)
		}
		tasks += (p.n + p.rows - 1) / p.rows
	}
	if tasks == 1 || !parallel {
		for t := 0; t < tasks; t++ {
			g.do(t)
		}
	} else {
		e.pool.runSplit(tasks, splitTasks(tasks, e.threads), g.task)
	}
	g.e = nil
	clear(g.parts) // hold no weights or outputs while pooled
	g.parts = g.parts[:0]
	for i := range g.rows {
		g.rows[i] = nil
	}
	gemvPasses.Put(g)
}

// chunkRows returns the rows of b (the columns of C) in one chunk of a
// part with n of them, rowBytes each: rows of a b stored [n, k] (tb) are
// contiguous, whole groups of four for the row kernel; columns of a [k, n]
// b are strided, groups of 16, whole vectors.
func chunkRows(n, rowBytes int, tb bool) int {
	align := 4
	if !tb {
		align = 16
	}
	return min(n, max(align, gemvChunkBytes/max(1, rowBytes)/align*align))
}

// splitTasks returns where the caller's region of a pass of tasks chunks
// ends and the workers' begins: its share of the threads, rounded up.
func splitTasks(tasks, threads int) int { return (tasks + threads - 1) / threads }

// do computes chunk t of the pass.
func (g *gemvPass) do(t int) {
	pi := len(g.parts) - 1
	for pi > 0 && g.parts[pi].first > t {
		pi--
	}
	p := &g.parts[pi]
	j0 := (t - p.first) * p.rows
	j1 := min(p.n, j0+p.rows)
	b, k, fast := p.b, g.k, g.e.kern.vec
	acc := 0
	if p.acc {
		acc = 1
	}
	for i := 0; i < g.m; i++ {
		crow := p.c[i*p.ldc+j0 : i*p.ldc+j1]
		ar := g.rows[i]
		switch {
		case p.kernel:
			_ = b.h[(j1-1)*b.ld+k-1]
			g.row(&crow[0], i, &b.h[j0*b.ld], b.ld, j1-j0, acc)
		case !b.t:
			// b is [k, n], float32: a sum of its rows scaled by a
			if !p.acc {
				clear(crow)
			}
			w := fast.bulk(len(crow))
			accRows(fast, crow[:w], ar, b.f[j0:], b.ld)
			if w < len(crow) {
				accRows(nil, crow[w:], ar, b.f[j0+w:], b.ld)
			}
		default:
			out := crow
			var tmp *buf[float32]
			if p.acc {
				tmp = getBuf[float32](len(crow))
				out = tmp.s[:len(crow)]
			}
			if b.f != nil {
				dotsSeq(fast, out, ar, b.f[j0*b.ld:], b.ld)
			} else {
				dotsSeqBF16(fast, out, ar, b.h[j0*b.ld:], b.ld)
			}
			if tmp != nil {
				for j, v := range out {
					crow[j] += v
				}
				putBuf(tmp)
			}
		}
	}
}

// row runs the row kernel for row i of op(A) over nr rows of bf16 weights
// from w (row stride ld) into out.
func (g *gemvPass) row(out *float32, i int, w *uint16, ld, nr, acc int) {
	if g.dot != nil {
		g.dot(out, &g.qh[i*g.k], w, ld, nr, g.k, acc)
		return
	}
	g.kern(out, &g.q[i*g.k], w, ld, nr, g.k, acc)
}

// swiglu sets out = silu(gate) * up as the SwiGLU op does, with ex as
// scratch for exp(-gate).
func swiglu(fast *vecSet, out, gate, up, ex []float32) {
	n := len(gate)
	out, up, ex = out[:n], up[:n], ex[:n]
	vexp(fast, ex, gate, -1, 0)
	i := 0
	if silu, _ := siluFns(fast); silu != nil {
		if i = n &^ 15; i > 0 {
			silu(&out[0], &gate[0], &up[0], &ex[0], i)
		}
	}
	for ; i < n; i++ {
		out[i] = gate[i] / (1 + ex[i]) * up[i]
	}
}

// gemv computes the product for a few rows of op(A) (decoding) straight
// from the stored b, without packing: dot products with the rows of b
// when it is stored [n, k] (F32, or BF16 widened exactly or, in the bf16
// mode, multiplied by a rounded to bf16), or a sum of
// scaled rows of b when it is stored [k, n] (F32). Shares of the columns of
// C are spread across the cores.
func (e *Engine) gemv(m, n, k int, a, b operand, c []float32, ldc int, acc bool) {
	g := e.newGemvPass(m, k, a)
	g.add(n, b, c, ldc, acc)
	g.run()
}

// gemvFits reports whether gemm would take the few-row path for an m-row
// product with b: the condition that gemm checks.
func (e *Engine) gemvFits(m int, b *tensor.Tensor, tb bool) bool {
	v := e.kern.vec
	return m <= gemvRows && v != nil && v.dots != nil && v.dotsBF16 != nil &&
		(b.DType == tensor.F32 || b.DType == tensor.BF16 && tb)
}

// MatMulShared sets c[i] = a·b[i]ᵀ for every i (compute.SharedMatMuler):
// for a few rows of a (decoding), one pass of the few-row product over
// every b[i] with a single barrier; otherwise one MatMul each.
func (e *Engine) MatMulShared(c []*tensor.Tensor, a *tensor.Tensor, b []*tensor.Tensor) {
	const op = "MatMulShared"
	if len(c) != len(b) {
		fail(op, "%d outputs for %d weights", len(c), len(b))
	}
	av := f32(op, "a", a)
	m, k := a.Rows(), a.Cols()
	fused := k > 0
	for i, bi := range b {
		if bi == nil {
			fail(op, "b[%d] is nil", i)
		}
		f32(op, "c", c[i])
		if c[i].Rows() != m || bi.Cols() != k || c[i].Cols() != bi.Rows() {
			fail(op, "b[%d] %v does not fit a %v and c[%d] %v", i, bi, a, i, c[i])
		}
		fused = fused && e.gemvFits(m, bi, true)
	}
	if !fused {
		for i := range b {
			e.MatMul(c[i], a, b[i], false, true, false)
		}
		return
	}
	if m == 0 {
		return
	}
	g := e.newGemvPass(m, k, operand{f: av, ld: k})
	for i, bi := range b {
		bo := operand{ld: k, t: true}
		if bi.DType == tensor.F32 {
			bo.f = bi.F32()
		} else {
			bo.h = bi.BF16()
		}
		if n := bi.Rows(); n > 0 {
			g.add(n, bo, c[i].F32(), n, false)
		}
	}
	g.run()
}

// MatMulSwiGLU sets out = silu(a·gateᵀ) * (a·upᵀ) (compute.SwiGLUMatMuler):
// for a few rows of a, both products in one pass of the few-row product
// into scratch and then the activation, as the SwiGLU op computes it;
// otherwise the two products into scratch and the SwiGLU op.
func (e *Engine) MatMulSwiGLU(out, a, gate, up *tensor.Tensor) {
	const op = "MatMulSwiGLU"
	ov, av := f32(op, "out", out), f32(op, "a", a)
	if gate == nil || up == nil {
		fail(op, "gate or up is nil")
	}
	m, k, n := a.Rows(), a.Cols(), gate.Rows()
	if out.Rows() != m || out.Cols() != n || gate.Cols() != k || up.Rows() != n || up.Cols() != k {
		fail(op, "gate %v, up %v do not fit a %v and out %v", gate, up, a, out)
	}
	if k == 0 || m == 0 || n == 0 || gate.DType != up.DType || !e.gemvFits(m, gate, true) || !e.gemvFits(m, up, true) {
		gb, ub := getBuf[float32](m*n), getBuf[float32](m*n)
		defer putBuf(gb)
		defer putBuf(ub)
		g, u := tensor.FromF32(gb.s[:m*n], m, n), tensor.FromF32(ub.s[:m*n], m, n)
		e.MatMul(g, a, gate, false, true, false)
		e.MatMul(u, a, up, false, true, false)
		e.SwiGLU(out, g, u)
		return
	}
	// gate's rows and then up's, each a run of memory for a thread to
	// read (the same rows of both in one chunk are two short streams)
	g := e.newGemvPass(m, k, operand{f: av, ld: k})
	gb, ub := operand{ld: k, t: true}, operand{ld: k, t: true}
	if gate.DType == tensor.F32 {
		gb.f, ub.f = gate.F32(), up.F32()
	} else {
		gb.h, ub.h = gate.BF16(), up.BF16()
	}
	tmp := getBuf[float32](2*m*n + n)
	defer putBuf(tmp)
	gv, uv, ex := tmp.s[:m*n], tmp.s[m*n:2*m*n], tmp.s[2*m*n:2*m*n+n]
	g.add(n, gb, gv, n, false)
	g.add(n, ub, uv, n, false)
	g.run()
	for i := 0; i < m; i++ {
		swiglu(e.kern.vec, ov[i*n:(i+1)*n], gv[i*n:(i+1)*n], uv[i*n:(i+1)*n], ex)
	}
}
