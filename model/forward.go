package model

import (
	"fmt"
	"math"
	"sync"

	"hone/compute"
	"hone/tensor"
)

// Model is a config and its weights, ready to run on an engine.
type Model struct {
	Config *Config
	W      *Weights

	mu       sync.Mutex
	cos, sin *tensor.Tensor // rotary tables, grown on demand
}

// New returns a model over the given weights.
func New(c *Config, w *Weights) *Model { return &Model{Config: c, W: w} }

// embed looks the ids up in the embedding, quantised or not.
func (m *Model) embed(e compute.Engine, x *tensor.Tensor, ids []int32) {
	if m.W.EmbedQ != nil {
		compute.EmbedQuant(e, x, m.W.EmbedQ, ids)
		return
	}
	e.Embed(x, m.W.Embed, ids)
}

// head computes logits = h·LMHeadᵀ (tb) or, for the backward, adds
// dlogits·LMHead into dh (!tb, acc).
func (m *Model) head(e compute.Engine, c, a *tensor.Tensor, tb, acc bool) {
	if m.W.EmbedQ != nil {
		compute.MatMulQuant(e, c, a, m.W.EmbedQ, tb, acc)
		return
	}
	e.MatMul(c, a, m.W.LMHead, false, tb, acc)
}

// ActType is the dtype of activations: F32, or F64 when the weights are
// F64 (finite-difference checks of the whole model run in float64).
func (m *Model) ActType() tensor.DType {
	if m.W.Norm != nil && m.W.Norm.DType == tensor.F64 {
		return tensor.F64
	}
	return tensor.F32
}

// ropeTables returns cos/sin tables covering positions [0, n).
func (m *Model) ropeTables(n int) (cos, sin *tensor.Tensor) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cos == nil || m.cos.Shape[0] < n {
		size := max(n, 256)
		if m.cos != nil {
			size = max(size, 2*m.cos.Shape[0])
		}
		if m.Config.Rope.Type != "dynamic" {
			size = min(size, max(n, m.Config.MaxPositions))
		}
		m.cos, m.sin = m.Config.RopeTables(size)
		m.cos, m.sin = m.cos.To(m.ActType()), m.sin.To(m.ActType())
	}
	return m.cos, m.sin
}

// Batch is B sequences of T tokens each, the unit of a forward pass.
type Batch struct {
	B, T int
	// IDs are the input token ids, [B*T].
	IDs []int32
	// Pos are the position ids, [B*T]; nil means 0..T-1 in every row.
	// Packed rows restart positions at each example.
	Pos []int32
	// Seg are segment ids, [B*T], for packed rows: a token attends only to
	// earlier tokens of its own segment. nil means one segment per row.
	Seg []int32
	// Labels are the targets aligned with IDs as transformers takes them:
	// position t's logits are scored against Labels[t+1] of the same row.
	// compute.IgnoreIndex marks untrained positions. nil for inference.
	Labels []int32
}

// Check reports whether the batch is well formed for the config.
func (m *Model) Check(b *Batch) error {
	n := b.B * b.T
	if b.B <= 0 || b.T <= 0 {
		return fmt.Errorf("batch of %d x %d tokens", b.B, b.T)
	}
	if len(b.IDs) != n || (b.Pos != nil && len(b.Pos) != n) || (b.Seg != nil && len(b.Seg) != n) || (b.Labels != nil && len(b.Labels) != n) {
		return fmt.Errorf("batch %d x %d: ids, positions, segments and labels must each have %d entries", b.B, b.T, n)
	}
	for i, id := range b.IDs {
		if id < 0 || int(id) >= m.Config.Vocab {
			return fmt.Errorf("token id %d at position %d is outside the vocabulary of %d", id, i, m.Config.Vocab)
		}
	}
	for i, l := range b.Labels {
		if l != compute.IgnoreIndex && (l < 0 || int(l) >= m.Config.Vocab) {
			return fmt.Errorf("label %d at position %d is outside the vocabulary of %d", l, i, m.Config.Vocab)
		}
	}
	for i, p := range b.Pos {
		if p < 0 {
			return fmt.Errorf("negative position id %d at %d", p, i)
		}
	}
	if w := m.Config.SlidingWindow; w > 0 && b.T > w {
		return fmt.Errorf("sequence length %d exceeds the sliding window of %d, which hone does not implement", b.T, w)
	}
	return nil
}

func (b *Batch) positions() []int32 {
	if b.Pos != nil {
		return b.Pos
	}
	p := make([]int32, b.B*b.T)
	for i := range p {
		p[i] = int32(i % b.T)
	}
	return p
}

func (b *Batch) maxPos() int {
	if b.Pos == nil {
		return b.T
	}
	m := int32(0)
	for _, p := range b.Pos {
		m = max(m, p)
	}
	return int(m) + 1
}

// layerActs holds what one layer's backward needs from its forward.
type layerActs struct {
	X            *tensor.Tensor // layer input (residual) [n, hidden]
	H1           *tensor.Tensor // attention norm output [n, hidden]
	Rstd1        *tensor.Tensor // [n]
	QRaw, KRaw   *tensor.Tensor // q, k before the per-head norm (Qwen3)
	RstdQ, RstdK *tensor.Tensor // per-head norm statistics (Qwen3)
	Q, K, V      *tensor.Tensor // after RoPE [n, q], [n, kv], [n, kv]
	Att          *tensor.Tensor // attention output [n, q]
	Lse          *tensor.Tensor // [B, heads, T]
	X2           *tensor.Tensor // residual after attention [n, hidden]
	H2           *tensor.Tensor // MLP norm output [n, hidden]
	Rstd2        *tensor.Tensor // [n]
	G, U         *tensor.Tensor // gate and up projections [n, inter]
}

func newLayerActs(c *Config, dt tensor.DType, b, t int) *layerActs {
	n := b * t
	f := func(shape ...int) *tensor.Tensor { return tensor.New(dt, shape...) }
	a := &layerActs{
		X: f(n, c.Hidden), H1: f(n, c.Hidden), Rstd1: f(n),
		Q: f(n, c.QDim()), K: f(n, c.KVDim()), V: f(n, c.KVDim()),
		Att: f(n, c.QDim()), Lse: f(b, c.Heads, t),
		X2: f(n, c.Hidden), H2: f(n, c.Hidden), Rstd2: f(n),
		G: f(n, c.Intermediate), U: f(n, c.Intermediate),
	}
	if c.QKNorm {
		a.QRaw, a.KRaw = f(n, c.QDim()), f(n, c.KVDim())
		a.RstdQ, a.RstdK = f(n*c.Heads), f(n*c.KVHeads)
	}
	return a
}

// Activations is the memory of a training forward pass: per layer, what the
// backward needs, or with Checkpoint only each layer's input (the rest is
// recomputed in backward, layer by layer). Reuse it across steps of the same
// batch shape.
type Activations struct {
	B, T int
	// Checkpoint recomputes each layer's forward during backward instead of
	// keeping its activations: memory per layer drops to one [n, hidden]
	// tensor for the price of a second forward.
	Checkpoint bool

	layers []*layerActs // one per layer, or one shared when checkpointing
	inputs []*tensor.Tensor
	XF     *tensor.Tensor // final residual [n, hidden]
	HF     *tensor.Tensor // final norm output [n, hidden]
	RstdF  *tensor.Tensor // [n]
	pos    []int32
	seg    []int32

	// scratch shared by forward and backward
	A, out, dX, dH, dQ, dK, dV, dAtt, dA, dU *tensor.Tensor
	dQRaw, dKRaw                             *tensor.Tensor

	// the loss's chunk buffers, kept across steps
	lossH, lossDH, lossLogits *tensor.Tensor
}

// NewActivations allocates the activation memory for B x T batches.
func (m *Model) NewActivations(b, t int, checkpoint bool) *Activations {
	c := m.Config
	n := b * t
	dt := m.ActType()
	a := &Activations{B: b, T: t, Checkpoint: checkpoint}
	if checkpoint {
		shared := newLayerActs(c, dt, b, t)
		for i := 0; i < c.Layers; i++ {
			a.layers = append(a.layers, shared)
			a.inputs = append(a.inputs, tensor.New(dt, n, c.Hidden))
		}
	} else {
		for i := 0; i < c.Layers; i++ {
			la := newLayerActs(c, dt, b, t)
			a.layers = append(a.layers, la)
			a.inputs = append(a.inputs, la.X)
		}
	}
	f := func(shape ...int) *tensor.Tensor { return tensor.New(dt, shape...) }
	a.XF, a.HF, a.RstdF = f(n, c.Hidden), f(n, c.Hidden), f(n)
	a.out, a.dX, a.dH = f(n, c.Hidden), f(n, c.Hidden), f(n, c.Hidden)
	a.dQ, a.dK, a.dV, a.dAtt = f(n, c.QDim()), f(n, c.KVDim()), f(n, c.KVDim()), f(n, c.QDim())
	a.A, a.dA, a.dU = f(n, c.Intermediate), f(n, c.Intermediate), f(n, c.Intermediate)
	if c.QKNorm {
		a.dQRaw, a.dKRaw = f(n, c.QDim()), f(n, c.KVDim())
	}
	return a
}

// Bytes returns the activation memory held, in bytes.
func (a *Activations) Bytes() int64 {
	seen := map[*tensor.Tensor]bool{}
	var n int64
	add := func(ts ...*tensor.Tensor) {
		for _, t := range ts {
			if t != nil && !seen[t] {
				seen[t] = true
				n += int64(len(t.Data))
			}
		}
	}
	for i, la := range a.layers {
		if i == 0 || !a.Checkpoint {
			add(la.X, la.H1, la.Rstd1, la.QRaw, la.KRaw, la.RstdQ, la.RstdK, la.Q, la.K, la.V, la.Att, la.Lse, la.X2, la.H2, la.Rstd2, la.G, la.U)
		}
	}
	add(a.inputs...)
	add(a.XF, a.HF, a.RstdF, a.A, a.out, a.dX, a.dH, a.dQ, a.dK, a.dV, a.dAtt, a.dA, a.dU, a.dQRaw, a.dKRaw)
	return n
}

func (m *Model) attnShape(b *Batch) compute.AttnShape {
	c := m.Config
	return compute.AttnShape{
		Batch: b.B, Tq: b.T, Tk: b.T,
		Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		Scale: float32(1 / math.Sqrt(float64(c.HeadDim))),
		Seg:   b.Seg,
		// a model that computes in bf16 (its cache is bf16) lets the
		// attention's products take bf16 operands, as its projections do
		BF16: m.CacheType() == tensor.BF16,
	}
}

// Forward runs the decoder over the batch and leaves the final normalised
// hidden states in a.HF. With train set, everything the backward needs is
// kept in a (adapters apply dropout and keep their state); otherwise the
// layers run in place over one buffer.
func (m *Model) Forward(e compute.Engine, b *Batch, a *Activations, train bool) {
	c := m.Config
	if a.B != b.B || a.T != b.T {
		panic(fmt.Sprintf("model.Forward: activations for %dx%d, batch %dx%d", a.B, a.T, b.B, b.T))
	}
	a.pos = b.positions()
	a.seg = b.Seg
	cos, sin := m.ropeTables(b.maxPos())
	s := m.attnShape(b)
	x := a.inputs[0]
	m.embed(e, x, b.IDs)
	for l := range m.W.Layers {
		la := a.layers[0]
		out := x
		if train {
			la = a.layers[l]
			if l+1 < c.Layers {
				out = a.inputs[l+1]
			}
		}
		if l+1 == c.Layers {
			out = a.XF
		}
		la.X = x
		m.layerForward(e, l, la, x, out, s, a.pos, cos, sin, la.K, la.V, la.K, la.V, a.A, train)
		x = out
	}
	e.RMSNorm(a.HF, a.XF, m.W.Norm, float32(c.RMSEps), a.RstdF)
}

// layerForward runs decoder layer l from x into out (which may alias x when
// nothing is kept for a backward). k and v are written to kDst and vDst and
// attention reads kAll and vAll: the same tensors in training, the cache in
// decoding. A is [n, inter] scratch.
func (m *Model) layerForward(e compute.Engine, l int, la *layerActs, x, out *tensor.Tensor, s compute.AttnShape,
	pos []int32, cos, sin, kDst, vDst, kAll, vAll, A *tensor.Tensor, train bool) {
	c := m.Config
	L := &m.W.Layers[l]
	eps := float32(c.RMSEps)
	n := x.Rows()
	e.RMSNorm(la.H1, x, L.AttnNorm, eps, la.Rstd1)
	if c.QKNorm {
		L.Q.Forward(e, la.QRaw, la.H1, train)
		L.K.Forward(e, la.KRaw, la.H1, train)
		e.RMSNorm(la.Q.Reshape(n*c.Heads, c.HeadDim), la.QRaw.Reshape(n*c.Heads, c.HeadDim), L.QNorm, eps, la.RstdQ)
		e.RMSNorm(kDst.Reshape(n*c.KVHeads, c.HeadDim), la.KRaw.Reshape(n*c.KVHeads, c.HeadDim), L.KNorm, eps, la.RstdK)
	} else {
		L.Q.Forward(e, la.Q, la.H1, train)
		L.K.Forward(e, kDst, la.H1, train)
	}
	L.V.Forward(e, vDst, la.H1, train)
	e.RoPE(la.Q, pos, c.Heads, cos, sin)
	e.RoPE(kDst, pos, c.KVHeads, cos, sin)
	var lse *tensor.Tensor
	if train {
		lse = la.Lse
	}
	e.Attention(la.Att, la.Q, kAll, vAll, lse, s)
	L.O.Forward(e, la.X2, la.Att, train)
	e.Add(la.X2, la.X2, x)
	e.RMSNorm(la.H2, la.X2, L.MLPNorm, eps, la.Rstd2)
	L.Gate.Forward(e, la.G, la.H2, train)
	L.Up.Forward(e, la.U, la.H2, train)
	e.SwiGLU(A, la.G, la.U)
	L.Down.Forward(e, out, A, train)
	e.Add(out, out, la.X2)
}

// targets returns the shifted labels: row position t is scored against
// Labels[t+1] of the same row and segment; the last position of a row, and
// the last token of a packed segment, have no target.
func (b *Batch) targets() []int32 {
	tg := make([]int32, b.B*b.T)
	for r := 0; r < b.B; r++ {
		for t := 0; t < b.T; t++ {
			i := r*b.T + t
			tg[i] = compute.IgnoreIndex
			if t+1 < b.T && (b.Seg == nil || b.Seg[i] == b.Seg[i+1]) {
				tg[i] = b.Labels[i+1]
			}
		}
	}
	return tg
}

// NumTargets counts the positions that Loss scores: the trained tokens.
func (b *Batch) NumTargets() int {
	n := 0
	for _, t := range b.targets() {
		if t != compute.IgnoreIndex {
			n++
		}
	}
	return n
}

// lossChunkBytes bounds the logits materialised at once by Loss.
const lossChunkBytes = 64 << 20

// Loss scores a.HF (from Forward) against the batch's shifted labels, as
// transformers' causal-LM loss does, and returns the sum of the token losses
// and how many tokens were scored. Only positions with a target are projected
// onto the vocabulary, a chunk of rows at a time. When backward is true, the
// gradient of gradScale × sum is accumulated into a's hidden-state gradient
// (for Backward) and, when g.LMHead is not nil, into g.LMHead.
func (m *Model) Loss(e compute.Engine, b *Batch, a *Activations, g *Weights, gradScale float32, backward bool) (float64, int) {
	c := m.Config
	if b.Labels == nil {
		panic("model.Loss: batch without labels")
	}
	tg := b.targets()
	var rows []int
	for i, t := range tg {
		if t != compute.IgnoreIndex {
			rows = append(rows, i)
		}
	}
	if backward {
		a.dH.Zero()
	}
	chunk := max(1, min(len(rows), lossChunkBytes/(4*c.Vocab)))
	dt := m.ActType()
	if a.lossLogits == nil || a.lossLogits.Shape[0] < chunk {
		a.lossH = tensor.New(dt, chunk, c.Hidden)
		a.lossDH = tensor.New(dt, chunk, c.Hidden)
		a.lossLogits = tensor.New(dt, chunk, c.Vocab)
	}
	hc, dhc, logits := a.lossH, a.lossDH, a.lossLogits
	labels := make([]int32, chunk)
	rb := c.Hidden * dt.Size()
	var sum float64
	var count int
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		k := hi - lo
		hv := hc.Slice(0, k)
		lv := logits.Slice(0, k)
		for j, r := range rows[lo:hi] {
			copy(hv.Data[j*rb:(j+1)*rb], a.HF.Data[r*rb:(r+1)*rb])
			labels[j] = tg[r]
		}
		m.head(e, lv, hv, true, false)
		var dl *tensor.Tensor
		if backward {
			dl = lv
		}
		s, n := e.CrossEntropy(lv, labels[:k], dl, gradScale)
		sum += s
		count += n
		if !backward {
			continue
		}
		dv := dhc.Slice(0, k)
		dv.Zero()
		m.head(e, dv, lv, false, true)
		if g != nil && g.LMHead != nil {
			e.MatMul(g.LMHead, lv, hv, true, false, true)
		}
		for j, r := range rows[lo:hi] {
			e.AddScaled(a.dH.Slice(r, r+1), dv.Slice(j, j+1), 1)
		}
	}
	return sum, count
}

// Backward propagates the gradient that Loss left in a back through the
// decoder, accumulating parameter gradients into g (nil tensors are frozen
// parameters; g may be nil when only adapters train). Forward must have run
// with train set.
func (m *Model) Backward(e compute.Engine, b *Batch, a *Activations, g *Weights) {
	c := m.Config
	cos, sin := m.ropeTables(b.maxPos())
	s := m.attnShape(b)
	a.dX.Zero()
	var gNorm *tensor.Tensor
	if g != nil {
		gNorm = g.Norm
	}
	e.RMSNormBackward(a.dX, gNorm, a.dH, a.XF, m.W.Norm, a.RstdF)
	for l := c.Layers - 1; l >= 0; l-- {
		la := a.layers[l]
		if a.Checkpoint {
			la.X = a.inputs[l]
			m.layerForward(e, l, la, la.X, a.out, s, a.pos, cos, sin, la.K, la.V, la.K, la.V, a.A, true)
		}
		var gl *Layer
		if g != nil {
			gl = &g.Layers[l]
		}
		m.layerBackward(e, l, la, a, s, gl, cos, sin)
	}
	if g != nil && g.Embed != nil {
		e.EmbedBackward(g.Embed, a.dX, b.IDs)
	}
}

// layerBackward turns a.dX from the gradient of layer l's output into the
// gradient of its input (the residual stream makes this an accumulation),
// accumulating parameter gradients into gl when not nil.
func (m *Model) layerBackward(e compute.Engine, l int, la *layerActs, a *Activations, s compute.AttnShape, gl *Layer, cos, sin *tensor.Tensor) {
	c := m.Config
	L := &m.W.Layers[l]
	n := a.dX.Rows()
	lin := func(p *Linear) *Linear {
		if gl == nil {
			return nil
		}
		return p
	}
	var gl0 Layer
	if gl == nil {
		gl = &gl0
	}
	// MLP: out = X2 + down(silu(G)·U)
	e.SwiGLU(a.A, la.G, la.U)
	a.dA.Zero()
	L.Down.Backward(e, a.dA, a.dX, a.A, lin(&gl.Down))
	dG := a.A
	dG.Zero()
	a.dU.Zero()
	e.SwiGLUBackward(dG, a.dU, a.dA, la.G, la.U)
	a.dH.Zero()
	L.Gate.Backward(e, a.dH, dG, la.H2, lin(&gl.Gate))
	L.Up.Backward(e, a.dH, a.dU, la.H2, lin(&gl.Up))
	e.RMSNormBackward(a.dX, gl.MLPNorm, a.dH, la.X2, L.MLPNorm, la.Rstd2)
	// attention: X2 = X + o(attn(rope(q), rope(k), v))
	a.dAtt.Zero()
	L.O.Backward(e, a.dAtt, a.dX, la.Att, lin(&gl.O))
	a.dQ.Zero()
	a.dK.Zero()
	a.dV.Zero()
	e.AttentionBackward(a.dQ, a.dK, a.dV, a.dAtt, la.Q, la.K, la.V, la.Att, la.Lse, s)
	e.RoPEBackward(a.dQ, a.pos, c.Heads, cos, sin)
	e.RoPEBackward(a.dK, a.pos, c.KVHeads, cos, sin)
	dQ, dK := a.dQ, a.dK
	if c.QKNorm {
		hd := c.HeadDim
		a.dQRaw.Zero()
		a.dKRaw.Zero()
		e.RMSNormBackward(a.dQRaw.Reshape(n*c.Heads, hd), gl.QNorm, a.dQ.Reshape(n*c.Heads, hd), la.QRaw.Reshape(n*c.Heads, hd), L.QNorm, la.RstdQ)
		e.RMSNormBackward(a.dKRaw.Reshape(n*c.KVHeads, hd), gl.KNorm, a.dK.Reshape(n*c.KVHeads, hd), la.KRaw.Reshape(n*c.KVHeads, hd), L.KNorm, la.RstdK)
		dQ, dK = a.dQRaw, a.dKRaw
	}
	a.dH.Zero()
	L.Q.Backward(e, a.dH, dQ, la.H1, lin(&gl.Q))
	L.K.Backward(e, a.dH, dK, la.H1, lin(&gl.K))
	L.V.Backward(e, a.dH, a.dV, la.H1, lin(&gl.V))
	e.RMSNormBackward(a.dX, gl.AttnNorm, a.dH, la.X, L.AttnNorm, la.Rstd1)
}
