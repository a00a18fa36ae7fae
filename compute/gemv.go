package compute

import "hone/tensor"

// SharedMatMuler is the optional capability of an engine that computes
// several products of the same input in one parallel pass: the projections
// of a decoding step that read the same activations (q, k and v; gate and
// up) then stream their weights with one barrier between the threads
// instead of one each.
type SharedMatMuler interface {
	// MatMulShared sets c[i] = a·b[i]ᵀ for every i: the same as
	// MatMul(c[i], a, b[i], false, true, false) for each, in any order.
	// a [m, k] and every c[i] [m, n_i] are F32, b[i] [n_i, k] F32 or BF16.
	MatMulShared(c []*tensor.Tensor, a *tensor.Tensor, b []*tensor.Tensor)
}

// MatMulShared sets c[i] = a·b[i]ᵀ for every i, through the engine's
// SharedMatMuler when it has one, otherwise with one MatMul each.
func MatMulShared(e Engine, c []*tensor.Tensor, a *tensor.Tensor, b []*tensor.Tensor) {
	if s, ok := e.(SharedMatMuler); ok {
		s.MatMulShared(c, a, b)
		return
	}
	for i := range b {
		e.MatMul(c[i], a, b[i], false, true, false)
	}
}

// SwiGLUMatMuler is the optional capability of an engine that computes the
// input of a gated MLP's down projection in one pass: when decoding, each
// share of rows of the gate and up weights is followed at once by its
// activation, with no separate op and no barrier for it.
type SwiGLUMatMuler interface {
	// MatMulSwiGLU sets out = silu(a·gateᵀ) * (a·upᵀ): a [m, k] and out
	// [m, n] F32, gate and up [n, k] of the same dtype, F32 or BF16.
	MatMulSwiGLU(out, a, gate, up *tensor.Tensor)
}

// MatMulSwiGLU sets out = silu(a·gateᵀ) * (a·upᵀ), through the engine's
// SwiGLUMatMuler when it has one, otherwise as two products into g and u
// ([m, n] scratch, unused by a capable engine) and the SwiGLU op.
func MatMulSwiGLU(e Engine, out, a, gate, up, g, u *tensor.Tensor) {
	if s, ok := e.(SwiGLUMatMuler); ok {
		s.MatMulSwiGLU(out, a, gate, up)
		return
	}
	MatMulShared(e, []*tensor.Tensor{g, u}, a, []*tensor.Tensor{gate, up})
	e.SwiGLU(out, g, u)
}

// ReadAheader is the optional capability of an engine whose idle threads
// can read the weights of a coming few-row pass (decoding) before it
// starts, while they would otherwise wait at the end of the pass before it
// and through the small ops between the two.
type ReadAheader interface {
	// ReadAhead announces the weights that the few-row pass after the
	// coming one will read: ws in the order given to MatMulShared or
	// MatMul, or with gated set the gate and up of MatMulSwiGLU. Called
	// just before a pass; no weights withdraws the announcement, after
	// which the engine reads none of the weights announced (they may be
	// freed or unmapped). A hint: the results do not depend on it.
	ReadAhead(gated bool, ws ...*tensor.Tensor)
}

// ReadAhead announces the weights of the few-row pass after the coming one
// to an engine that is a ReadAheader, and does nothing otherwise.
func ReadAhead(e Engine, gated bool, ws ...*tensor.Tensor) {
	if r, ok := e.(ReadAheader); ok {
		r.ReadAhead(gated, ws...)
	}
}

// ReadAheadThener is the optional capability of a ReadAheader whose idle
// threads can go on, once they have read the announced weights, to those
// of the pass after that: worth it before a long stretch of small ops
// (a decoding layer's attention), where they would otherwise run out.
type ReadAheadThener interface {
	// ReadAheadThen adds to the last announcement (ReadAhead) the weights
	// of the pass after the announced one, as ReadAhead takes them, to be
	// read once the announced weights are. A hint, as ReadAhead.
	ReadAheadThen(gated bool, ws ...*tensor.Tensor)
}

// ReadAheadThen adds the weights of the pass after the announced one to
// the announcement of an engine that is a ReadAheadThener, and does
// nothing otherwise.
func ReadAheadThen(e Engine, gated bool, ws ...*tensor.Tensor) {
	if r, ok := e.(ReadAheadThener); ok {
		r.ReadAheadThen(gated, ws...)
	}
}

// AttentionAheader is the optional capability of an engine whose attention
// for one query (decoding a token) can read, while it computes, the cached
// keys and values that the next layer's attention will read: each layer's
// cache has left the caches by the next token, and reading it costs the
// attention most of its time, while its arithmetic leaves memory idle.
type AttentionAheader interface {
	// AttentionAhead is Attention(out, q, k, v, nil, s) that meanwhile
	// asks for nextK and nextV (nil for none) to be brought into the
	// caches. A hint: the results do not depend on it.
	AttentionAhead(out, q, k, v *tensor.Tensor, s AttnShape, nextK, nextV *tensor.Tensor)
}

// AttentionAhead is e.Attention(out, q, k, v, nil, s), reading nextK and
// nextV ahead meanwhile where e is an AttentionAheader.
func AttentionAhead(e Engine, out, q, k, v *tensor.Tensor, s AttnShape, nextK, nextV *tensor.Tensor) {
	if a, ok := e.(AttentionAheader); ok {
		a.AttentionAhead(out, q, k, v, s, nextK, nextV)
		return
	}
	e.Attention(out, q, k, v, nil, s)
}
