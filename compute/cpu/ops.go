package cpu

import (
	"math"

	"hone/compute"
	"hone/tensor"
)

// minParallel is the number of elements below which an elementwise or
// row-wise op runs on the calling goroutine alone.
const minParallel = 1 << 15

// rows splits [0, n) rows of width elements into chunks and calls f on
// each across the pool, or on the caller when the op is small.
func (e *Engine) rows(n, width int, f func(r0, r1 int)) {
	e.rowTasks(n, width, func(_, r0, r1 int) { f(r0, r1) })
}

// serial reports whether rows and rowTasks run n rows of width elements
// on the caller alone. An op on the path of a decoding step tests it
// first and calls its row function directly, without a closure: a
// closure handed to the pool is allocated on every call (ops.go's
// rmsNorm, rotation).
func (e *Engine) serial(n, width int) bool {
	return e.threads == 1 || n*width < minParallel || n == 1
}

// rowTasks is rows with the chunk's index t passed to f (chunks are a
// function of n, width and the thread count only, so partial results
// indexed by t reduce deterministically). It returns the number of chunks.
func (e *Engine) rowTasks(n, width int, f func(t, r0, r1 int)) int {
	if n == 0 {
		return 0
	}
	if e.serial(n, width) {
		f(0, 0, n)
		return 1
	}
	tasks := min(n, 4*e.threads)
	e.pool.run(tasks, func(t int) { f(t, t*n/tasks, (t+1)*n/tasks) })
	return tasks
}

// weight returns a norm weight as float32 values: a view when it is F32,
// a widened copy otherwise.
func weight(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	switch t.DType {
	case tensor.F32:
		return t.F32()
	case tensor.BF16, tensor.F16:
		return t.ToF32().F32()
	}
	fail(op, "%s is %v, want F32, BF16 or F16", name, t)
	return nil
}

// f32OrNil is f32 for an optional tensor.
func f32OrNil(op, name string, t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return f32(op, name, t)
}

func need(ok bool, op, format string, args ...any) {
	if !ok {
		fail(op, format, args...)
	}
}

// Add sets dst = a + b over all cores.
func (e *Engine) Add(dst, a, b *tensor.Tensor) {
	const op = "Add"
	d, x, y := f32(op, "dst", dst), f32(op, "a", a), f32(op, "b", b)
	need(len(x) == len(d) && len(y) == len(d), op, "lengths dst %d, a %d, b %d differ", len(d), len(x), len(y))
	e.rows(len(d), 1, func(i0, i1 int) {
		dd, xx, yy := d[i0:i1], x[i0:i1], y[i0:i1]
		for i := range dd {
			dd[i] = xx[i] + yy[i]
		}
	})
}

// AddScaled sets dst += alpha*x over all cores.
func (e *Engine) AddScaled(dst, x *tensor.Tensor, alpha float32) {
	const op = "AddScaled"
	d, xv := f32(op, "dst", dst), f32(op, "x", x)
	need(len(xv) == len(d), op, "lengths dst %d, x %d differ", len(d), len(xv))
	e.rows(len(d), 1, func(i0, i1 int) { axpy(e.kern.vec, d[i0:i1], xv[i0:i1], alpha) })
}

// Scale sets x *= alpha over all cores.
func (e *Engine) Scale(x *tensor.Tensor, alpha float32) {
	xv := f32("Scale", "x", x)
	e.rows(len(xv), 1, func(i0, i1 int) {
		for i := range xv[i0:i1] {
			xv[i0+i] *= alpha
		}
	})
}

// RMSNorm normalises each row of x, rows spread over the cores; see
// compute.Normalizer.
func (e *Engine) RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor) {
	const op = "RMSNorm"
	o, xv := f32(op, "out", out), f32(op, "x", x)
	// ifs rather than need, whose arguments are boxed on every call: the
	// ops of a decoding step allocate nothing
	if out.Numel() != x.Numel() || out.Cols() != x.Cols() {
		fail(op, "out %v does not match x %v", out, x)
	}
	wv := weight(op, "w", w)
	d, n := x.Cols(), x.Rows()
	if len(wv) != d {
		fail(op, "w %v does not match x %v", w, x)
	}
	rs := f32OrNil(op, "rstd", rstd)
	if rs != nil && len(rs) != n {
		fail(op, "rstd %v does not match x %v", rstd, x)
	}
	nr := rmsNorm{e.kern.vec, o, xv, wv, rs, d, eps}
	if e.serial(n, d) {
		nr.rows(0, n)
		return
	}
	e.rows(n, d, nr.rows)
}

// rmsNorm is RMSNorm's arguments, and rows its work on rows [r0, r1).
type rmsNorm struct {
	fast          *vecSet
	o, x, w, rstd []float32
	d             int
	eps           float32
}

func (a rmsNorm) rows(r0, r1 int) {
	d := a.d
	for i := r0; i < r1; i++ {
		xi, oi := a.x[i*d:(i+1)*d], a.o[i*d:(i+1)*d]
		ss := dot(a.fast, xi, xi)
		r := float32(1 / math.Sqrt(float64(ss/float32(d)+a.eps)))
		if a.rstd != nil {
			a.rstd[i] = r
		}
		vmul(a.fast, oi, xi, a.w, r)
	}
}

// RMSNormBackward accumulates dx and dw (either may be nil), rows spread
// over the cores and the weight gradient reduced at the end.
func (e *Engine) RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor) {
	const op = "RMSNormBackward"
	xv, g := f32(op, "x", x), f32(op, "dout", dout)
	need(dout.Numel() == x.Numel() && dout.Cols() == x.Cols(), op, "dout %v does not match x %v", dout, x)
	wv := weight(op, "w", w)
	d, n := x.Cols(), x.Rows()
	need(len(wv) == d, op, "w %v does not match x %v", w, x)
	rs := f32(op, "rstd", rstd)
	need(len(rs) == n, op, "rstd %v does not match x %v", rstd, x)
	dxv, dwv := f32OrNil(op, "dx", dx), f32OrNil(op, "dw", dw)
	need(dxv == nil || len(dxv) == len(xv), op, "dx %v does not match x %v", dx, x)
	need(dwv == nil || len(dwv) == d, op, "dw %v does not match w %v", dw, w)
	fast := e.kern.vec
	parts := make([][]float32, 4*e.threads)
	e.rowTasks(n, 3*d, func(t, r0, r1 int) {
		gb := getBuf[float32](d)
		defer putBuf(gb)
		gw := gb.s
		var dwPart []float32
		if dwv != nil {
			dwPart = make([]float32, d)
			parts[t] = dwPart
		}
		for i := r0; i < r1; i++ {
			xi, gi := xv[i*d:(i+1)*d], g[i*d:(i+1)*d]
			r := rs[i]
			if dwPart != nil {
				for j, gv := range gi {
					dwPart[j] += gv * (xi[j] * r)
				}
			}
			if dxv == nil {
				continue
			}
			vmul(fast, gw, gi, wv, 1)
			k := r * r * dot(fast, gw, xi) / float32(d)
			dxi := dxv[i*d : (i+1)*d]
			axpy(fast, dxi, gw, r)
			axpy(fast, dxi, xi, -r*k)
		}
	})
	for _, p := range parts {
		for j, v := range p {
			dwv[j] += v
		}
	}
}

// swigluChunk is how many elements SwiGLU converts at a time (the exp
// scratch lives on the stack).
const swigluChunk = 1024

// SwiGLU sets out = silu(gate) * up with a vectorised exp.
func (e *Engine) SwiGLU(out, gate, up *tensor.Tensor) {
	const op = "SwiGLU"
	o, g, u := f32(op, "out", out), f32(op, "gate", gate), f32(op, "up", up)
	need(len(g) == len(o) && len(u) == len(o), op, "lengths out %d, gate %d, up %d differ", len(o), len(g), len(u))
	fast := e.kern.vec
	silu, _ := siluFns(fast)
	e.rows(len(o), 8, func(i0, i1 int) {
		eb := getBuf[float32](swigluChunk)
		defer putBuf(eb)
		for c := i0; c < i1; c += swigluChunk {
			c1 := min(c+swigluChunk, i1)
			gg, uu, oo := g[c:c1], u[c:c1], o[c:c1]
			en := eb.s[:len(gg)]
			vexp(fast, en, gg, -1, 0)
			i := 0
			if silu != nil {
				i = len(gg) &^ 15
				if i > 0 {
					silu(&oo[0], &gg[0], &uu[0], &en[0], i)
				}
			}
			for ; i < len(gg); i++ {
				oo[i] = gg[i] / (1 + en[i]) * uu[i]
			}
		}
	})
}

// SwiGLUBackward accumulates dgate and dup (either may be nil).
func (e *Engine) SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor) {
	const op = "SwiGLUBackward"
	dg, du := f32OrNil(op, "dgate", dgate), f32OrNil(op, "dup", dup)
	do, g, u := f32(op, "dout", dout), f32(op, "gate", gate), f32(op, "up", up)
	n := len(do)
	need(len(g) == n && len(u) == n && (dg == nil || len(dg) == n) && (du == nil || len(du) == n),
		op, "lengths dgate %d, dup %d, dout %d, gate %d, up %d differ", len(dg), len(du), n, len(g), len(u))
	fast := e.kern.vec
	_, back := siluFns(fast)
	if dg == nil || du == nil {
		back = nil
	}
	e.rows(n, 12, func(i0, i1 int) {
		eb := getBuf[float32](swigluChunk)
		defer putBuf(eb)
		for c := i0; c < i1; c += swigluChunk {
			c1 := min(c+swigluChunk, i1)
			gg := g[c:c1]
			en := eb.s[:len(gg)]
			vexp(fast, en, gg, -1, 0)
			start := 0
			if back != nil {
				start = len(gg) &^ 15
				if start > 0 {
					back(&dg[c], &du[c], &do[c], &gg[0], &u[c], &en[0], start)
				}
			}
			for i := start; i < len(gg); i++ {
				gv := gg[i]
				sg := 1 / (1 + en[i])
				if dg != nil {
					dg[c+i] += do[c+i] * u[c+i] * sg * (1 + gv*(1-sg))
				}
				if du != nil {
					du[c+i] += do[c+i] * gv * sg
				}
			}
		}
	})
}

// RoPE rotates x in place, rows spread over the cores.
func (e *Engine) RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	e.rope("RoPE", x, pos, heads, cos, sin, 1)
}

// RoPEBackward rotates dx in place by the opposite angle.
func (e *Engine) RoPEBackward(dx *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	e.rope("RoPEBackward", dx, pos, heads, cos, sin, -1)
}

func (e *Engine) rope(op string, x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor, dir float32) {
	xv := f32(op, "x", x)
	// ifs rather than need, whose arguments are boxed on every call
	if heads <= 0 || x.Cols()%heads != 0 {
		fail(op, "x %v is not a whole number of %d heads", x, heads)
	}
	if x.Rows() != len(pos) {
		fail(op, "x %v has %d rows for %d positions", x, x.Rows(), len(pos))
	}
	hd := x.Cols() / heads
	if hd%2 != 0 {
		fail(op, "head dim %d is not even", hd)
	}
	half := hd / 2
	cv, sv := f32(op, "cos", cos), f32(op, "sin", sin)
	if cos.Cols() != half || sin.Cols() != half || len(cv) != len(sv) {
		fail(op, "tables cos %v and sin %v are not [maxPos, %d] for head dim %d", cos, sin, half, hd)
	}
	maxPos := cos.Rows()
	for i, p := range pos {
		if p < 0 || int(p) >= maxPos {
			fail(op, "pos[%d] = %d is outside the tables' %d positions", i, p, maxPos)
		}
	}
	rot := rotation{xv, cv, sv, pos, heads, hd, x.Cols(), dir}
	if e.serial(len(pos), rot.width) {
		rot.rows(0, len(pos))
		return
	}
	e.rows(len(pos), rot.width, rot.rows)
}

// rotation is RoPE's arguments, and rows its work on rows [r0, r1).
type rotation struct {
	x, cos, sin      []float32
	pos              []int32
	heads, hd, width int
	dir              float32
}

func (a rotation) rows(r0, r1 int) {
	half, width, dir := a.hd/2, a.width, a.dir
	for i := r0; i < r1; i++ {
		p := int(a.pos[i])
		c, s := a.cos[p*half:(p+1)*half], a.sin[p*half:(p+1)*half]
		row := a.x[i*width : (i+1)*width]
		for h := 0; h < a.heads; h++ {
			x1 := row[h*a.hd : h*a.hd+half]
			x2 := row[h*a.hd+half : (h+1)*a.hd]
			x2 = x2[:len(x1)]
			c, s := c[:len(x1)], s[:len(x1)]
			for j, a := range x1 {
				b, sj := x2[j], dir*s[j]
				x1[j] = a*c[j] - b*sj
				x2[j] = b*c[j] + a*sj
			}
		}
	}
}

// CrossEntropy computes the summed loss over counted rows and, when
// dlogits is not nil, its gradient, rows spread over the cores; the
// exponentials are vectorised and written straight into dlogits.
func (e *Engine) CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gradScale float32) (float64, int) {
	const op = "CrossEntropy"
	x := f32(op, "logits", logits)
	need(logits.Rows() == len(labels), op, "logits %v has %d rows for %d labels", logits, logits.Rows(), len(labels))
	dl := f32OrNil(op, "dlogits", dlogits)
	need(dlogits == nil || dlogits.SameShape(logits), op, "dlogits %v does not match logits %v", dlogits, logits)
	vocab := logits.Cols()
	need(vocab > 0, op, "vocab %d", vocab)
	for i, y := range labels {
		need(y == compute.IgnoreIndex || (y >= 0 && int(y) < vocab), op,
			"labels[%d] = %d is outside the vocabulary of %d (and not IgnoreIndex %d)", i, y, vocab, compute.IgnoreIndex)
	}
	fast := e.kern.vec
	loss := make([]float64, len(labels))
	e.rows(len(labels), vocab, func(r0, r1 int) {
		var scratch []float32
		for i := r0; i < r1; i++ {
			y := labels[i]
			xi := x[i*vocab : (i+1)*vocab]
			var dx []float32
			if dl != nil {
				dx = dl[i*vocab : (i+1)*vocab]
			}
			if y == compute.IgnoreIndex {
				clear(dx)
				continue
			}
			m := vmax(fast, xi)
			xy := xi[y]
			var se float64
			if dx != nil {
				se = vexp(fast, dx, xi, 1, m)
			} else {
				if scratch == nil {
					scratch = make([]float32, min(vocab, 4096))
				}
				for j := 0; j < vocab; j += len(scratch) {
					j1 := min(j+len(scratch), vocab)
					se += vexp(fast, scratch[:j1-j], xi[j:j1], 1, m)
				}
			}
			logZ := float64(m) + math.Log(se)
			loss[i] = logZ - float64(xy)
			if dx != nil {
				scale := float32(float64(gradScale) / se)
				for j := range dx {
					dx[j] *= scale
				}
				dx[y] -= gradScale
			}
		}
	})
	var sum float64
	count := 0
	for i, y := range labels {
		if y != compute.IgnoreIndex {
			sum += loss[i]
			count++
		}
	}
	return sum, count
}
