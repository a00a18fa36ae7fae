package model

import (
	"hone/compute"
	"hone/tensor"
)

// sharedInput runs linear layers that read the same input, as the q, k and
// v projections do, and gate and up: their plain weights in one pass
// through compute.MatMulShared (one barrier between the threads instead of
// one a product when decoding), then each layer's quantised product, bias
// and adapter. It keeps its slices between calls, so that a decoding step
// allocates nothing.
type sharedInput struct {
	ws, ys []*tensor.Tensor
	ahead  [4]*tensor.Tensor
}

// announce is compute.ReadAhead without the variadic slice that an
// interface call would move to the heap on every pass.
func (s *sharedInput) announce(e compute.Engine, gated bool, ws ...*tensor.Tensor) {
	n := copy(s.ahead[:], ws)
	compute.ReadAhead(e, gated, s.ahead[:n]...)
	clear(s.ahead[:])
}

// announceThen is compute.ReadAheadThen as announce is compute.ReadAhead.
func (s *sharedInput) announceThen(e compute.Engine, gated bool, ws ...*tensor.Tensor) {
	n := copy(s.ahead[:], ws)
	compute.ReadAheadThen(e, gated, s.ahead[:n]...)
	clear(s.ahead[:])
}

// forward sets ys[i] = ls[i].Forward(x) for every i (inference: no
// adapter state is kept for a backward).
func (s *sharedInput) forward(e compute.Engine, x *tensor.Tensor, ls []*Linear, ys []*tensor.Tensor) {
	s.ws, s.ys = s.ws[:0], s.ys[:0]
	for i, l := range ls {
		if l.Q == nil {
			s.ws = append(s.ws, l.W)
			s.ys = append(s.ys, ys[i])
		}
	}
	if len(s.ws) > 0 {
		compute.MatMulShared(e, s.ys, x, s.ws)
	}
	for i, l := range ls {
		if l.Q != nil {
			compute.MatMulQuant(e, ys[i], x, l.Q, true, false)
		}
		if l.B != nil {
			e.AddBias(ys[i], l.B)
		}
		if l.Adapter != nil {
			l.Adapter.Forward(e, ys[i], x, false)
		}
	}
	clear(s.ws)
	clear(s.ys)
}

// decodeLayer is layerForward for inference (decoding, with x the new
// tokens and kAll, vAll the cache): the products that share an input run
// as one pass each, and the attention reads ahead the next layer's cached
// rows kNext, vNext (nil for none; compute.AttentionAhead).
func (m *Model) decodeLayer(e compute.Engine, l int, la *layerActs, sh *sharedInput, x *tensor.Tensor, s compute.AttnShape,
	pos []int32, cos, sin, kDst, vDst, kAll, vAll, kNext, vNext, A *tensor.Tensor) {
	c := m.Config
	L := &m.W.Layers[l]
	eps := float32(c.RMSEps)
	e.RMSNorm(la.H1, x, L.AttnNorm, eps, nil)
	// the products write the cache's rows, or with a bf16 cache the
	// layer's scratch, rounded into the cache once rotated
	k, v := kDst, vDst
	if kDst.DType != la.K.DType {
		k, v = la.K, la.V
	}
	m.qkv(e, L, la, sh, k, v)
	e.RoPE(la.Q, pos, c.Heads, cos, sin)
	e.RoPE(k, pos, c.KVHeads, cos, sin)
	if k != kDst {
		storeRows(kDst, k)
		storeRows(vDst, v)
	}
	compute.AttentionAhead(e, la.Att, la.Q, kAll, vAll, s, kNext, vNext)
	m.mlp(e, l, la, sh, x, A)
}

// qkv sets la.Q, k and v from la.H1 (with Qwen3's per-head norms of q and
// k), the three products in one pass.
func (m *Model) qkv(e compute.Engine, L *Layer, la *layerActs, sh *sharedInput, k, v *tensor.Tensor) {
	c := m.Config
	eps := float32(c.RMSEps)
	n := la.H1.Rows()
	// the output projection comes after RoPE and attention, and the
	// worker, given only its share of that, would run out during the
	// attention: it goes on to gate and up
	sh.announce(e, false, L.O.W)
	sh.announceThen(e, plain(&L.Gate) && plain(&L.Up), L.Gate.W, L.Up.W)
	if c.QKNorm {
		sh.forward(e, la.H1, []*Linear{&L.Q, &L.K, &L.V}, []*tensor.Tensor{la.QRaw, la.KRaw, v})
		e.RMSNorm(la.Q.Reshape(n*c.Heads, c.HeadDim), la.QRaw.Reshape(n*c.Heads, c.HeadDim), L.QNorm, eps, nil)
		e.RMSNorm(k.Reshape(n*c.KVHeads, c.HeadDim), la.KRaw.Reshape(n*c.KVHeads, c.HeadDim), L.KNorm, eps, nil)
		return
	}
	sh.forward(e, la.H1, []*Linear{&L.Q, &L.K, &L.V}, []*tensor.Tensor{la.Q, k, v})
}

// mlp adds layer l's output projection of la.Att to the residual stream
// x, and then the MLP of its norm: in place, without copying the stream
// (the sums are those of out = r + product, in the same order). Gate and
// up run in one pass. Before each pass it announces the next one's
// weights to the engine (compute.ReadAhead): the down projection's
// announces the next layer's q, k and v, or after the last layer the LM
// head.
func (m *Model) mlp(e compute.Engine, l int, la *layerActs, sh *sharedInput, x, A *tensor.Tensor) {
	L := &m.W.Layers[l]
	eps := float32(m.Config.RMSEps)
	gated := plain(&L.Gate) && plain(&L.Up)
	sh.announce(e, gated, L.Gate.W, L.Up.W)
	addTo(e, &L.O, x, la.Att, la.X2)
	e.RMSNorm(la.H2, x, L.MLPNorm, eps, nil)
	sh.announce(e, false, L.Down.W)
	if gated {
		compute.MatMulSwiGLU(e, A, la.H2, L.Gate.W, L.Up.W, la.G, la.U)
	} else {
		sh.forward(e, la.H2, []*Linear{&L.Gate, &L.Up}, []*tensor.Tensor{la.G, la.U})
		e.SwiGLU(A, la.G, la.U)
	}
	if l+1 < len(m.W.Layers) {
		n := &m.W.Layers[l+1]
		sh.announce(e, false, n.Q.W, n.K.W, n.V.W)
	} else {
		sh.announce(e, false, m.W.LMHead)
	}
	addTo(e, &L.Down, x, A, la.X2)
}

// addTo adds l(in) to r in place. A plain weight accumulates its product
// into r; any other layer computes into tmp, then adds.
func addTo(e compute.Engine, l *Linear, r, in, tmp *tensor.Tensor) {
	if !plain(l) {
		l.Forward(e, tmp, in, false)
		e.Add(r, r, tmp)
		return
	}
	e.MatMul(r, in, l.W, false, true, true)
}

// plain reports whether l is a bare weight: not quantised, no bias, no
// adapter.
func plain(l *Linear) bool { return l.Q == nil && l.B == nil && l.Adapter == nil }
