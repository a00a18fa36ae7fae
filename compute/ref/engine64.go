package ref

import (
	"hone/compute"
	"hone/tensor"
)

// Engine64 is the reference compute.Engine over F64 tensors: every operand —
// activations, gradients, saved statistics, weights (MatMul's b, norm
// weights, biases, embedding tables) and the rotary tables — is F64. It runs
// the generic functions Engine runs, instantiated for float64, with the same
// semantics (gradients accumulate, RoPE is in place, CrossEntropy overwrites
// dlogits) and the same shape checks, so that a whole model's forward and
// backward can be checked against central finite differences. Scalars the
// interface passes as float32 (eps, alpha, gradScale) are widened exactly.
type Engine64 struct{}

var _ compute.Engine = Engine64{}

// Name returns "ref64".
func (Engine64) Name() string { return "ref64" }

// f64 returns the float64 view of t, which must be a non-nil F64 tensor.
func f64(op, name string, t *tensor.Tensor) []float64 {
	if t == nil {
		fail(op, "%s is nil", name)
	}
	if t.DType != tensor.F64 {
		fail(op, "%s is %v, want F64", name, t)
	}
	return t.F64()
}

// f64OrNil is f64 for an optional tensor: nil gives nil.
func f64OrNil(op, name string, t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	return f64(op, name, t)
}

// MatMul computes op(a)·op(b) into c, or adds it when acc is set; a, b and c
// are F64. See compute.MatMuler.
func (Engine64) MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool) {
	const op = "Engine64.MatMul"
	cv, av, bv := f64(op, "c", c), f64(op, "a", a), f64(op, "b", b)
	m, n := c.Rows(), c.Cols()
	k, am := a.Cols(), a.Rows()
	if ta {
		k, am = a.Rows(), a.Cols()
	}
	need(am == m, op, "a %v (ta=%v) does not give %d rows for c %v", a, ta, m, c)
	bk, bn := b.Rows(), b.Cols()
	if tb {
		bk, bn = b.Cols(), b.Rows()
	}
	need(bk == k && bn == n, op, "b %v (tb=%v) is not %d x %d for a %v (ta=%v) and c %v", b, tb, k, n, a, ta, c)
	MatMul(cv, av, bv, m, n, k, ta, tb, acc)
}

// AddBias adds the F64 bias [n] to every row of y [m, n].
func (Engine64) AddBias(y, bias *tensor.Tensor) {
	const op = "Engine64.AddBias"
	yv, bv := f64(op, "y", y), f64(op, "bias", bias)
	need(len(bv) == y.Cols(), op, "bias %v does not match y %v", bias, y)
	AddBias(yv, bv, y.Rows(), y.Cols())
}

// AddBiasBackward accumulates the column sums of dy [m, n] into dbias [n]; a
// nil dbias is skipped.
func (Engine64) AddBiasBackward(dbias, dy *tensor.Tensor) {
	const op = "Engine64.AddBiasBackward"
	if dbias == nil {
		return
	}
	db, g := f64(op, "dbias", dbias), f64(op, "dy", dy)
	need(len(db) == dy.Cols(), op, "dbias %v does not match dy %v", dbias, dy)
	AddBiasBackward(db, g, dy.Rows(), dy.Cols())
}

// Add sets dst = a + b (dst may alias a or b).
func (Engine64) Add(dst, a, b *tensor.Tensor) {
	const op = "Engine64.Add"
	Add(f64(op, "dst", dst), f64(op, "a", a), f64(op, "b", b))
}

// AddScaled sets dst += alpha * x.
func (Engine64) AddScaled(dst, x *tensor.Tensor, alpha float32) {
	const op = "Engine64.AddScaled"
	AddScaled(f64(op, "dst", dst), f64(op, "x", x), float64(alpha))
}

// Scale sets x *= alpha.
func (Engine64) Scale(x *tensor.Tensor, alpha float32) {
	Scale(f64("Engine64.Scale", "x", x), float64(alpha))
}

// Embed copies rows ids of table [vocab, d] into out [len(ids), d].
func (Engine64) Embed(out, table *tensor.Tensor, ids []int32) {
	const op = "Engine64.Embed"
	o, tv := f64(op, "out", out), f64(op, "table", table)
	need(table.Cols() == out.Cols() && out.Rows() == len(ids), op, "out %v, table %v and %d ids do not match", out, table, len(ids))
	Embed(o, tv, ids, out.Cols())
}

// EmbedBackward accumulates row i of dout into row ids[i] of dtable; a nil
// dtable (a frozen embedding) is skipped.
func (Engine64) EmbedBackward(dtable, dout *tensor.Tensor, ids []int32) {
	const op = "Engine64.EmbedBackward"
	if dtable == nil {
		return
	}
	dt, g := f64(op, "dtable", dtable), f64(op, "dout", dout)
	need(dtable.Cols() == dout.Cols() && dout.Rows() == len(ids), op, "dtable %v, dout %v and %d ids do not match", dtable, dout, len(ids))
	EmbedBackward(dt, g, ids, dout.Cols())
}

// RMSNorm normalises the rows of x [n, d] into out with the weight w [d], in
// float64; rstd [n] may be nil.
func (Engine64) RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor) {
	const op = "Engine64.RMSNorm"
	o, xv, wv := f64(op, "out", out), f64(op, "x", x), f64(op, "w", w)
	need(out.Numel() == x.Numel() && out.Cols() == x.Cols(), op, "out %v does not match x %v", out, x)
	need(len(wv) == x.Cols(), op, "w %v does not match x %v", w, x)
	rs := f64OrNil(op, "rstd", rstd)
	need(rs == nil || len(rs) == x.Rows(), op, "rstd %v does not match x %v", rstd, x)
	RMSNorm(o, xv, wv, x.Rows(), x.Cols(), float64(eps), rs)
}

// RMSNormBackward accumulates the gradients of x (dx, may be nil) and of the
// weight (dw, may be nil).
func (Engine64) RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor) {
	const op = "Engine64.RMSNormBackward"
	xv, g, wv := f64(op, "x", x), f64(op, "dout", dout), f64(op, "w", w)
	need(dout.Numel() == x.Numel() && dout.Cols() == x.Cols(), op, "dout %v does not match x %v", dout, x)
	need(len(wv) == x.Cols(), op, "w %v does not match x %v", w, x)
	rs := f64(op, "rstd", rstd)
	need(len(rs) == x.Rows(), op, "rstd %v does not match x %v", rstd, x)
	dxv, dwv := f64OrNil(op, "dx", dx), f64OrNil(op, "dw", dw)
	need(dxv == nil || len(dxv) == len(xv), op, "dx %v does not match x %v", dx, x)
	need(dwv == nil || len(dwv) == len(wv), op, "dw %v does not match w %v", dw, w)
	RMSNormBackward(dxv, dwv, g, xv, wv, rs, x.Rows(), x.Cols())
}

// RoPE rotates x [n, heads*hd] in place with the F64 tables cos, sin
// [maxPos, hd/2].
func (Engine64) RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	rope64("Engine64.RoPE", x, pos, heads, cos, sin, 1)
}

// RoPEBackward rotates the gradient dx in place by the opposite angle.
func (Engine64) RoPEBackward(dx *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	rope64("Engine64.RoPEBackward", dx, pos, heads, cos, sin, -1)
}

// rope64 checks the operands of RoPE (dir 1) or RoPEBackward (dir -1).
func rope64(op string, x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor, dir float64) {
	xv := f64(op, "x", x)
	need(heads > 0 && x.Cols()%heads == 0, op, "x %v is not a whole number of %d heads", x, heads)
	need(x.Rows() == len(pos), op, "x %v has %d rows for %d positions", x, x.Rows(), len(pos))
	hd := x.Cols() / heads
	cv, sv := f64(op, "cos", cos), f64(op, "sin", sin)
	need(cos.Cols() == hd/2 && sin.Cols() == hd/2, op, "tables cos %v and sin %v are not [maxPos, %d] for head dim %d", cos, sin, hd/2, hd)
	rope(op, xv, pos, heads, hd, cv, sv, dir)
}

// Attention computes causal grouped-query attention over F64 tensors; lse
// may be nil.
func (Engine64) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Engine64.Attention"
	qv, kv, vv := attn64(op, s, q, k, v)
	o := f64(op, "out", out)
	need(out.Rows() == q.Rows() && out.Cols() == q.Cols(), op, "out %v does not match q %v", out, q)
	l := f64OrNil(op, "lse", lse)
	need(lse == nil || len(l) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	Attention(o, qv, kv, vv, l, s)
}

// AttentionBackward accumulates dq, dk, dv (each may be nil) from dout.
func (Engine64) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Engine64.AttentionBackward"
	qv, kv, vv := attn64(op, s, q, k, v)
	view := func(name string, x, like *tensor.Tensor, opt bool) []float64 {
		if x == nil && opt {
			return nil
		}
		xv := f64(op, name, x)
		need(x.Rows() == like.Rows() && x.Cols() == like.Cols(), op, "%s %v does not match %v", name, x, like)
		return xv
	}
	o, g := view("out", out, q, false), view("dout", dout, q, false)
	dqv, dkv, dvv := view("dq", dq, q, true), view("dk", dk, k, true), view("dv", dv, v, true)
	l := f64(op, "lse", lse)
	need(len(l) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	AttentionBackward(dqv, dkv, dvv, g, qv, kv, vv, o, l, s)
}

// attn64 checks that q, k and v are F64 and shaped as s says, and returns
// their views.
func attn64(op string, s compute.AttnShape, q, k, v *tensor.Tensor) (qv, kv, vv []float64) {
	qv, kv, vv = f64(op, "q", q), f64(op, "k", k), f64(op, "v", v)
	need(q.Rows() == s.Batch*s.Tq && q.Cols() == s.Heads*s.HeadDim, op, "q %v is not [%d*%d, %d*%d]", q, s.Batch, s.Tq, s.Heads, s.HeadDim)
	for _, t := range []*tensor.Tensor{k, v} {
		need(t.Rows() == s.Batch*s.Tk && t.Cols() == s.KVHeads*s.HeadDim, op, "k/v %v is not [%d*%d, %d*%d]", t, s.Batch, s.Tk, s.KVHeads, s.HeadDim)
	}
	return qv, kv, vv
}

// SwiGLU sets out = silu(gate)·up elementwise.
func (Engine64) SwiGLU(out, gate, up *tensor.Tensor) {
	const op = "Engine64.SwiGLU"
	SwiGLU(f64(op, "out", out), f64(op, "gate", gate), f64(op, "up", up))
}

// SwiGLUBackward accumulates dgate and dup (either may be nil) from dout.
func (Engine64) SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor) {
	const op = "Engine64.SwiGLUBackward"
	SwiGLUBackward(f64OrNil(op, "dgate", dgate), f64OrNil(op, "dup", dup), f64(op, "dout", dout), f64(op, "gate", gate), f64(op, "up", up))
}

// CrossEntropy returns the summed causal-LM loss of the logits [n, vocab]
// against n labels and the number of rows counted; dlogits, when not nil,
// is overwritten with the gradient and may alias logits (see compute.Loss).
func (Engine64) CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gradScale float32) (float64, int) {
	const op = "Engine64.CrossEntropy"
	x := f64(op, "logits", logits)
	need(logits.Rows() == len(labels), op, "logits %v has %d rows for %d labels", logits, logits.Rows(), len(labels))
	d := f64OrNil(op, "dlogits", dlogits)
	need(dlogits == nil || dlogits.SameShape(logits), op, "dlogits %v does not match logits %v", dlogits, logits)
	return CrossEntropy(x, labels, d, logits.Cols(), float64(gradScale))
}
