package ref

import (
	"math"

	"hone/compute"
	"hone/tensor"
)

// Attention computes causal, grouped-query attention as compute.AttnShape
// describes: for each sequence b, head h and query i, with kv head
// g = h/(Heads/KVHeads),
//
//	s_j = Scale · q[b,i,h]·k[b,j,g]    for the keys j that query i may see
//	out[b,i,h] = Σ_j softmax(s)_j · v[b,j,g]
//
// q and out are [Batch*Tq, Heads*HeadDim], k and v [Batch*Tk,
// KVHeads*HeadDim]. The softmax is computed in F as transformers' eager
// attention does (exp(s - max) / sum). When lse is not nil it receives
// max + log(sum) per row, laid out [Batch, Heads, Tq].
func Attention[F Float](out, q, k, v, lse []F, s compute.AttnShape) {
	const op = "Attention"
	checkAttn(op, s, q, k, v)
	needLen(op, "out", out, s.Batch*s.Tq*s.Heads*s.HeadDim)
	if lse != nil {
		needLen(op, "lse", lse, s.Batch*s.Heads*s.Tq)
	}
	hd, scale := s.HeadDim, F(s.Scale)
	scores := make([]F, s.Tk)
	for b := range s.Batch {
		for h := range s.Heads {
			for i := range s.Tq {
				qi := qRow(q, s, b, h, i)
				m := F(math.Inf(-1))
				for j := range s.Tk {
					if !attends(s, b, i, j) {
						continue
					}
					scores[j] = scale * dot(qi, kvRow(k, s, b, h, j))
					m = max(m, scores[j])
				}
				var sum F
				for j := range s.Tk {
					if attends(s, b, i, j) {
						scores[j] = exp(scores[j] - m)
						sum += scores[j]
					}
				}
				oi := qRow(out, s, b, h, i)
				clear(oi)
				for j := range s.Tk {
					if attends(s, b, i, j) {
						p := scores[j] / sum
						for d, vv := range kvRow(v, s, b, h, j)[:hd] {
							oi[d] += p * vv
						}
					}
				}
				if lse != nil {
					lse[(b*s.Heads+h)*s.Tq+i] = m + F(math.Log(float64(sum)))
				}
			}
		}
	}
}

// AttentionBackward accumulates into dq, dk and dv (each may be nil) the
// gradients of Attention given dout and the forward's q, k, v, out and lse.
// It is the flash-attention backward: for each query row i,
//
//	D_i = Σ_d dout_i·out_i,  P_ij = exp(s_ij - lse_i),  dP_ij = dout_i·v_j
//	dS_ij = P_ij·(dP_ij - D_i)
//	dq_i += Scale·Σ_j dS_ij·k_j,  dk_j += Scale·dS_ij·q_i,  dv_j += P_ij·dout_i
func AttentionBackward[F Float](dq, dk, dv, dout, q, k, v, out, lse []F, s compute.AttnShape) {
	const op = "AttentionBackward"
	checkAttn(op, s, q, k, v)
	nq, nk := s.Batch*s.Tq*s.Heads*s.HeadDim, s.Batch*s.Tk*s.KVHeads*s.HeadDim
	needLen(op, "out", out, nq)
	needLen(op, "dout", dout, nq)
	needLen(op, "lse", lse, s.Batch*s.Heads*s.Tq)
	if dq != nil {
		needLen(op, "dq", dq, nq)
	}
	if dk != nil {
		needLen(op, "dk", dk, nk)
	}
	if dv != nil {
		needLen(op, "dv", dv, nk)
	}
	scale := F(s.Scale)
	for b := range s.Batch {
		for h := range s.Heads {
			for i := range s.Tq {
				qi, gi := qRow(q, s, b, h, i), qRow(dout, s, b, h, i)
				di := dot(gi, qRow(out, s, b, h, i))
				l := lse[(b*s.Heads+h)*s.Tq+i]
				for j := range s.Tk {
					if !attends(s, b, i, j) {
						continue
					}
					kj, vj := kvRow(k, s, b, h, j), kvRow(v, s, b, h, j)
					p := exp(scale*dot(qi, kj) - l)
					if dv != nil {
						AddScaled(kvRow(dv, s, b, h, j), gi, p)
					}
					ds := p * (dot(gi, vj) - di)
					if dq != nil {
						AddScaled(qRow(dq, s, b, h, i), kj, scale*ds)
					}
					if dk != nil {
						AddScaled(kvRow(dk, s, b, h, j), qi, scale*ds)
					}
				}
			}
		}
	}
}

// checkAttn validates an attention shape against q, k and v.
func checkAttn[F Float](op string, s compute.AttnShape, q, k, v []F) {
	need(s.Batch >= 0 && s.Tq >= 0 && s.QOffset >= 0 && s.HeadDim > 0, op, "bad shape %+v", s)
	need(s.Heads > 0 && s.KVHeads > 0 && s.Heads%s.KVHeads == 0, op, "%d heads are not a multiple of %d kv heads", s.Heads, s.KVHeads)
	need(s.QOffset+s.Tq <= s.Tk, op, "queries at %d..%d need keys beyond Tk = %d", s.QOffset, s.QOffset+s.Tq, s.Tk)
	if s.Seg != nil {
		need(s.Tq == s.Tk && s.QOffset == 0, op, "segments need Tq == Tk and QOffset 0, have Tq %d, Tk %d, QOffset %d", s.Tq, s.Tk, s.QOffset)
		need(len(s.Seg) == s.Batch*s.Tk, op, "%d segment ids for %d key rows", len(s.Seg), s.Batch*s.Tk)
	}
	needLen(op, "q", q, s.Batch*s.Tq*s.Heads*s.HeadDim)
	needLen(op, "k", k, s.Batch*s.Tk*s.KVHeads*s.HeadDim)
	needLen(op, "v", v, s.Batch*s.Tk*s.KVHeads*s.HeadDim)
}

// attends reports whether query i of sequence b may see key j: causally, and
// within its packed segment when there are segments.
func attends(s compute.AttnShape, b, i, j int) bool {
	qp := s.QOffset + i
	if j > qp {
		return false
	}
	return s.Seg == nil || s.Seg[b*s.Tk+j] == s.Seg[b*s.Tk+qp]
}

// qRow returns head h of query row i of sequence b in a [Batch*Tq,
// Heads*HeadDim] tensor (q, out, dq, dout).
func qRow[F Float](x []F, s compute.AttnShape, b, h, i int) []F {
	o := ((b*s.Tq+i)*s.Heads + h) * s.HeadDim
	return x[o : o+s.HeadDim : o+s.HeadDim]
}

// kvRow returns the kv head that query head h uses, of key row j of sequence
// b, in a [Batch*Tk, KVHeads*HeadDim] tensor (k, v, dk, dv).
func kvRow[F Float](x []F, s compute.AttnShape, b, h, j int) []F {
	g := h / (s.Heads / s.KVHeads)
	o := ((b*s.Tk+j)*s.KVHeads + g) * s.HeadDim
	return x[o : o+s.HeadDim : o+s.HeadDim]
}

// dot returns Σ a_i·b_i accumulated in F, in order.
func dot[F Float](a, b []F) F {
	var s F
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// Attention runs the reference attention on F32 tensors; lse may be nil.
func (Engine) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Attention"
	if k != nil && v != nil && k.DType == tensor.BF16 && v.DType == tensor.BF16 {
		k, v = k.ToF32(), v.ToF32() // a bf16 cache, widened exactly
	}
	checkAttnTensors(op, s, q, k, v)
	o := f32(op, "out", out)
	need(out.Rows() == q.Rows() && out.Cols() == q.Cols(), op, "out %v does not match q %v", out, q)
	l := f32OrNil(op, "lse", lse)
	need(lse == nil || len(l) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	Attention(o, q.F32(), k.F32(), v.F32(), l, s)
}

// AttentionBackward accumulates dq, dk, dv (F32, each may be nil) from dout.
func (Engine) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "AttentionBackward"
	checkAttnTensors(op, s, q, k, v)
	for _, t := range []struct {
		name string
		x    *tensor.Tensor
		like *tensor.Tensor
		opt  bool
	}{
		{"out", out, q, false}, {"dout", dout, q, false},
		{"dq", dq, q, true}, {"dk", dk, k, true}, {"dv", dv, v, true},
	} {
		if t.x == nil && t.opt {
			continue
		}
		f32(op, t.name, t.x)
		need(t.x.Rows() == t.like.Rows() && t.x.Cols() == t.like.Cols(), op, "%s %v does not match %v", t.name, t.x, t.like)
	}
	l := f32(op, "lse", lse)
	need(len(l) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	AttentionBackward(f32OrNil(op, "dq", dq), f32OrNil(op, "dk", dk), f32OrNil(op, "dv", dv),
		dout.F32(), q.F32(), k.F32(), v.F32(), out.F32(), l, s)
}

// checkAttnTensors checks that q, k and v are F32 and shaped as s says.
func checkAttnTensors(op string, s compute.AttnShape, q, k, v *tensor.Tensor) {
	f32(op, "q", q)
	f32(op, "k", k)
	f32(op, "v", v)
	need(q.Rows() == s.Batch*s.Tq && q.Cols() == s.Heads*s.HeadDim, op, "q %v is not [%d*%d, %d*%d]", q, s.Batch, s.Tq, s.Heads, s.HeadDim)
	for _, t := range []*tensor.Tensor{k, v} {
		need(t.Rows() == s.Batch*s.Tk && t.Cols() == s.KVHeads*s.HeadDim, op, "k/v %v is not [%d*%d, %d*%d]", t, s.Batch, s.Tk, s.KVHeads, s.HeadDim)
	}
}
