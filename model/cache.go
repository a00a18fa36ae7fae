package model

import (
	"fmt"
	"math"

	"hone/compute"
	"hone/tensor"
)

// Cache is the key/value cache of one sequence being decoded: per layer, the
// rotated keys and the values of every position so far.
type Cache struct {
	K, V []*tensor.Tensor // per layer [capacity, kv*hd]
	// Len is the number of positions cached.
	Len int

	scratch map[int]*decodeScratch
}

type decodeScratch struct {
	la   *layerActs
	x, h *tensor.Tensor
	A    *tensor.Tensor
	pos  []int32
	sh   sharedInput
	// views of a layer's cache rows, taken anew for every layer, and of
	// the next layer's cached rows
	kDst, vDst, kAll, vAll, kNext, vNext tensor.Tensor
}

// NewCache returns an empty cache for up to capacity positions, in bf16
// when the model computes in bf16 (see CacheType).
func (m *Model) NewCache(capacity int) *Cache {
	c := m.Config
	kc := &Cache{scratch: map[int]*decodeScratch{}}
	dt := m.CacheType()
	for i := 0; i < c.Layers; i++ {
		kc.K = append(kc.K, tensor.New(dt, capacity, c.KVDim()))
		kc.V = append(kc.V, tensor.New(dt, capacity, c.KVDim()))
	}
	return kc
}

// CacheType is the dtype of the model's key/value cache: BF16 when the
// model computes in bf16 (its projections' weights bf16, or quantised with
// bf16 compute), as llama.cpp and transformers keep 16-bit caches: the
// keys and values are rounded once, when stored, and a decoded token reads
// half the bytes of cache (72 MB a token in float32 at 1536 positions of
// the SmolLM2-135M shape); otherwise the activations' type.
func (m *Model) CacheType() tensor.DType {
	dt := m.ActType()
	if dt != tensor.F32 || len(m.W.Layers) == 0 {
		return dt
	}
	switch k := &m.W.Layers[0].K; {
	case k.W != nil && k.W.DType == tensor.BF16,
		k.Q != nil && k.Q.ComputeDType == tensor.BF16:
		return tensor.BF16
	}
	return dt
}

// storeRows writes src's rows into dst's, of the same shape: a copy, or
// rounded to bf16 into a bf16 cache.
func storeRows(dst, src *tensor.Tensor) {
	switch {
	case dst.DType == src.DType:
		copy(dst.Data, src.Data)
	case dst.DType == tensor.BF16 && src.DType == tensor.F32:
		d, s := dst.BF16(), src.F32()
		for i, v := range s[:len(d)] {
			d[i] = tensor.F32ToBF16(v)
		}
	default:
		panic(fmt.Sprintf("model: cannot store %v rows into %v", src, dst))
	}
}

// Capacity is the number of positions the cache can hold.
func (kc *Cache) Capacity() int { return kc.K[0].Shape[0] }

// Truncate forgets every position from n on (n <= Len), so that a shared
// prefix can be kept and the rest decoded again.
func (kc *Cache) Truncate(n int) {
	if n < 0 || n > kc.Len {
		panic(fmt.Sprintf("model.Cache.Truncate(%d) with %d cached", n, kc.Len))
	}
	kc.Len = n
}

// Decode runs ids, the next len(ids) tokens of the sequence, through the
// model after the cached positions, appends their keys and values to the
// cache, and writes logits: [len(ids), vocab] when logits has that many rows,
// else [1, vocab] for the last token only.
func (m *Model) Decode(e compute.Engine, kc *Cache, ids []int32, logits *tensor.Tensor) error {
	c := m.Config
	n := len(ids)
	if n == 0 {
		return fmt.Errorf("decode: no tokens")
	}
	if kc.Len+n > kc.Capacity() {
		return fmt.Errorf("decode: %d cached + %d new tokens exceed the cache capacity %d", kc.Len, n, kc.Capacity())
	}
	if w := c.SlidingWindow; w > 0 && kc.Len+n > w {
		return fmt.Errorf("decode: %d positions exceed the sliding window of %d, which hone does not implement", kc.Len+n, w)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= c.Vocab {
			return fmt.Errorf("decode: token id %d at %d is outside the vocabulary of %d", id, i, c.Vocab)
		}
	}
	sc := kc.scratch[n]
	if sc == nil {
		dt := m.ActType()
		sc = &decodeScratch{la: newLayerActs(c, dt, 1, n), x: tensor.New(dt, n, c.Hidden), h: tensor.New(dt, n, c.Hidden),
			A: tensor.New(dt, n, c.Intermediate), pos: make([]int32, n)}
		if n == 1 || len(kc.scratch) < 4 {
			kc.scratch[n] = sc
		}
	}
	for i := range sc.pos {
		sc.pos[i] = int32(kc.Len + i)
	}
	cos, sin := m.ropeTables(kc.Len + n)
	s := compute.AttnShape{
		Batch: 1, Tq: n, Tk: kc.Len + n, QOffset: kc.Len,
		Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		Scale: float32(1 / math.Sqrt(float64(c.HeadDim))),
	}
	x := sc.x
	m.embed(e, x, ids)
	for l := range m.W.Layers {
		kDst := kc.K[l].SliceTo(&sc.kDst, kc.Len, kc.Len+n)
		vDst := kc.V[l].SliceTo(&sc.vDst, kc.Len, kc.Len+n)
		kAll := kc.K[l].SliceTo(&sc.kAll, 0, kc.Len+n)
		vAll := kc.V[l].SliceTo(&sc.vAll, 0, kc.Len+n)
		// the next layer's cached rows, for the attention to read ahead
		var kNext, vNext *tensor.Tensor
		if l+1 < len(m.W.Layers) && kc.Len > 0 {
			kNext = kc.K[l+1].SliceTo(&sc.kNext, 0, kc.Len)
			vNext = kc.V[l+1].SliceTo(&sc.vNext, 0, kc.Len)
		}
		sc.la.X = x
		m.decodeLayer(e, l, sc.la, &sc.sh, x, s, sc.pos, cos, sin, kDst, vDst, kAll, vAll, kNext, vNext, sc.A)
	}
	kc.Len += n
	rows := logits.Rows()
	switch rows {
	case n:
	case 1:
		x = x.Slice(n-1, n)
	default:
		return fmt.Errorf("decode: logits have %d rows for %d tokens", rows, n)
	}
	h := sc.h
	if rows < n {
		h = h.Slice(0, rows)
	}
	e.RMSNorm(h, x, m.W.Norm, float32(c.RMSEps), nil)
	m.head(e, logits, h, true, false)
	compute.ReadAhead(e, false) // nothing comes
	return nil
}

// Logits runs a full forward pass over the batch (no cache, no backward) and
// returns the logits of every position, [B*T, vocab].
func (m *Model) Logits(e compute.Engine, b *Batch) (*tensor.Tensor, error) {
	if err := m.Check(b); err != nil {
		return nil, err
	}
	a := m.NewActivations(b.B, b.T, true) // one shared set of layer buffers
	m.Forward(e, b, a, false)
	out := tensor.New(m.ActType(), b.B*b.T, m.Config.Vocab)
	m.head(e, out, a.HF, true, false)
	return out, nil
}
