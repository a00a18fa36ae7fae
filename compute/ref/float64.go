package ref

import (
	"hone/compute"
	"hone/tensor"
)

// Engine64 is the reference engine over F64 tensors: every operand —
// activations, gradients, saved statistics, weights and rotary tables — is
// F64. It runs the same generic functions as Engine, instantiated for
// float64, so that a whole model's forward and backward can be checked
// against finite differences in float64.
type Engine64 struct{}

var _ compute.Engine = Engine64{}

// Name returns "ref64".
func (Engine64) Name() string { return "ref64" }

// f64 returns the float64 view of t (nil for a nil tensor), panicking on
// another dtype.
func f64(op, name string, t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	if t.DType != tensor.F64 {
		fail(op, "%s is %v, want F64", name, t)
	}
	return t.F64()
}

// MatMul computes op(a)·op(b) into c (or adds it, with acc).
func (Engine64) MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool) {
	const op = "Engine64.MatMul"
	m, n := c.Rows(), c.Cols()
	k := a.Cols()
	if ta {
		k = a.Rows()
	}
	bk := b.Rows()
	if tb {
		bk = b.Cols()
	}
	need(bk == k && (tb && b.Rows() == n || !tb && b.Cols() == n), op, "a %v (ta=%v), b %v (tb=%v), c %v do not fit", a, ta, b, tb, c)
	MatMul(f64(op, "c", c), f64(op, "a", a), f64(op, "b", b), m, n, k, ta, tb, acc)
}

// AddBias adds bias to every row of y.
func (Engine64) AddBias(y, bias *tensor.Tensor) {
	AddBias(f64("AddBias", "y", y), f64("AddBias", "bias", bias), y.Rows(), y.Cols())
}

// AddBiasBackward accumulates the column sums of dy into dbias.
func (Engine64) AddBiasBackward(dbias, dy *tensor.Tensor) {
	if dbias == nil {
		return
	}
	AddBiasBackward(f64("AddBiasBackward", "dbias", dbias), f64("AddBiasBackward", "dy", dy), dy.Rows(), dy.Cols())
}

// Add sets dst = a + b.
func (Engine64) Add(dst, a, b *tensor.Tensor) {
	Add(f64("Add", "dst", dst), f64("Add", "a", a), f64("Add", "b", b))
}

// AddScaled sets dst += alpha·x.
func (Engine64) AddScaled(dst, x *tensor.Tensor, alpha float32) {
	AddScaled(f64("AddScaled", "dst", dst), f64("AddScaled", "x", x), float64(alpha))
}

// Scale sets x *= alpha.
func (Engine64) Scale(x *tensor.Tensor, alpha float32) { Scale(f64("Scale", "x", x), float64(alpha)) }

// Embed copies the rows ids of table into out.
func (Engine64) Embed(out, table *tensor.Tensor, ids []int32) {
	const op = "Engine64.Embed"
	need(table.Cols() == out.Cols() && out.Rows() == len(ids), op, "out %v, table %v and %d ids do not match", out, table, len(ids))
	for i, id := range ids {
		checkID(op, i, id, table.Rows())
	}
	Embed(f64(op, "out", out), f64(op, "table", table), ids, out.Cols())
}

// EmbedBackward accumulates dout's rows into dtable.
func (Engine64) EmbedBackward(dtable, dout *tensor.Tensor, ids []int32) {
	if dtable == nil {
		return
	}
	EmbedBackward(f64("EmbedBackward", "dtable", dtable), f64("EmbedBackward", "dout", dout), ids, dout.Cols())
}

// RMSNorm normalises the rows of x.
func (Engine64) RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor) {
	const op = "Engine64.RMSNorm"
	need(w.Numel() == x.Cols() && out.Numel() == x.Numel(), op, "x %v, w %v, out %v do not fit", x, w, out)
	RMSNorm(f64(op, "out", out), f64(op, "x", x), f64(op, "w", w), x.Rows(), x.Cols(), float64(eps), f64(op, "rstd", rstd))
}

// RMSNormBackward accumulates dx and dw.
func (Engine64) RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor) {
	const op = "Engine64.RMSNormBackward"
	RMSNormBackward(f64(op, "dx", dx), f64(op, "dw", dw), f64(op, "dout", dout), f64(op, "x", x), f64(op, "w", w), f64(op, "rstd", rstd), x.Rows(), x.Cols())
}

// RoPE rotates x in place.
func (Engine64) RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	const op = "Engine64.RoPE"
	RoPE(f64(op, "x", x), pos, heads, x.Cols()/heads, f64(op, "cos", cos), f64(op, "sin", sin))
}

// RoPEBackward rotates dx back in place.
func (Engine64) RoPEBackward(dx *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	const op = "Engine64.RoPEBackward"
	RoPEBackward(f64(op, "dx", dx), pos, heads, dx.Cols()/heads, f64(op, "cos", cos), f64(op, "sin", sin))
}

// Attention computes causal grouped-query attention.
func (Engine64) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Engine64.Attention"
	Attention(f64(op, "out", out), f64(op, "q", q), f64(op, "k", k), f64(op, "v", v), f64(op, "lse", lse), s)
}

// AttentionBackward accumulates dq, dk and dv.
func (Engine64) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Engine64.AttentionBackward"
	AttentionBackward(f64(op, "dq", dq), f64(op, "dk", dk), f64(op, "dv", dv), f64(op, "dout", dout),
		f64(op, "q", q), f64(op, "k", k), f64(op, "v", v), f64(op, "out", out), f64(op, "lse", lse), s)
}

// SwiGLU sets out = silu(gate)·up.
func (Engine64) SwiGLU(out, gate, up *tensor.Tensor) {
	SwiGLU(f64("SwiGLU", "out", out), f64("SwiGLU", "gate", gate), f64("SwiGLU", "up", up))
}

// SwiGLUBackward accumulates dgate and dup.
func (Engine64) SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor) {
	const op = "Engine64.SwiGLUBackward"
	SwiGLUBackward(f64(op, "dgate", dgate), f64(op, "dup", dup), f64(op, "dout", dout), f64(op, "gate", gate), f64(op, "up", up))
}

// CrossEntropy returns the summed loss and count; dlogits receives the
// gradient when not nil.
func (Engine64) CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gradScale float32) (float64, int) {
	const op = "Engine64.CrossEntropy"
	need(logits.Rows() == len(labels), op, "logits %v has %d rows for %d labels", logits, logits.Rows(), len(labels))
	return CrossEntropy(f64(op, "logits", logits), labels, f64(op, "dlogits", dlogits), logits.Cols(), float64(gradScale))
}
