package model

import (
	"fmt"
	"math"

	"hone/compute"
	"hone/tensor"
)

// BatchDecoder decodes one new token for each of several sequences at once,
// each with its own cache and position: the projections and the MLP run as
// one matrix product over all the sequences (the point of continuous
// batching: the weights are read once per step, not once per sequence),
// attention runs per sequence over its own cache. It keeps scratch buffers
// between calls and is not safe for concurrent use.
type BatchDecoder struct {
	m       *Model
	scratch map[int]*batchScratch
}

type batchScratch struct {
	la      *layerActs
	x, A, h *tensor.Tensor // [n, hidden], [n, inter], [n, hidden]
	k, v    *tensor.Tensor // the new keys and values [n, kv*hd]
	pos     []int32
	sh      sharedInput
	// views of a sequence's rows, taken anew for each (tensor.SliceTo)
	views [8]tensor.Tensor
}

// NewBatchDecoder returns a batch decoder for m.
func (m *Model) NewBatchDecoder() *BatchDecoder {
	return &BatchDecoder{m: m, scratch: map[int]*batchScratch{}}
}

// Decode runs token ids[i] through the model at the end of caches[i], for
// every i, appends each one's keys and values to its cache and writes the
// next-token logits of sequence i to row i of logits [len(ids), vocab].
// The result equals Model.Decode of each sequence alone.
func (d *BatchDecoder) Decode(e compute.Engine, caches []*Cache, ids []int32, logits *tensor.Tensor) error {
	m := d.m
	c := m.Config
	n := len(ids)
	if n == 0 || len(caches) != n {
		return fmt.Errorf("batch decode: %d tokens for %d caches", n, len(caches))
	}
	if logits.Rows() != n || logits.Cols() != c.Vocab {
		return fmt.Errorf("batch decode: logits are %v, want [%d %d]", logits.Shape, n, c.Vocab)
	}
	maxLen := 0
	for i, kc := range caches {
		if kc.Len+1 > kc.Capacity() {
			return fmt.Errorf("batch decode: sequence %d: %d cached positions fill the cache", i, kc.Len)
		}
		if w := c.SlidingWindow; w > 0 && kc.Len+1 > w {
			return fmt.Errorf("batch decode: sequence %d: %d positions exceed the sliding window of %d, which hone does not implement", i, kc.Len+1, w)
		}
		if id := ids[i]; id < 0 || int(id) >= c.Vocab {
			return fmt.Errorf("batch decode: token id %d of sequence %d is outside the vocabulary of %d", id, i, c.Vocab)
		}
		for j := 0; j < i; j++ {
			if caches[j] == kc {
				return fmt.Errorf("batch decode: sequences %d and %d share a cache", j, i)
			}
		}
		maxLen = max(maxLen, kc.Len+1)
	}
	sc := d.scratch[n]
	if sc == nil {
		dt := m.ActType()
		sc = &batchScratch{la: newLayerActs(c, dt, 1, n), x: tensor.New(dt, n, c.Hidden),
			A: tensor.New(dt, n, c.Intermediate), h: tensor.New(dt, n, c.Hidden),
			k: tensor.New(dt, n, c.KVDim()), v: tensor.New(dt, n, c.KVDim()), pos: make([]int32, n)}
		if len(d.scratch) >= 64 {
			clear(d.scratch)
		}
		d.scratch[n] = sc
	}
	for i, kc := range caches {
		sc.pos[i] = int32(kc.Len)
	}
	cos, sin := m.ropeTables(maxLen)
	x := sc.x
	m.embed(e, x, ids)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for l := range m.W.Layers {
		sc.la.X = x
		m.batchLayer(e, l, sc, x, caches, cos, sin, scale)
	}
	for _, kc := range caches {
		kc.Len++
	}
	e.RMSNorm(sc.h, x, m.W.Norm, float32(c.RMSEps), nil)
	m.head(e, logits, sc.h, true, false)
	compute.ReadAhead(e, false) // nothing comes
	return nil
}

// batchLayer is layerForward with per-sequence keys, values and attention.
func (m *Model) batchLayer(e compute.Engine, l int, sc *batchScratch, x *tensor.Tensor, caches []*Cache, cos, sin *tensor.Tensor, scale float32) {
	c := m.Config
	L := &m.W.Layers[l]
	la := sc.la
	eps := float32(c.RMSEps)
	e.RMSNorm(la.H1, x, L.AttnNorm, eps, nil)
	m.qkv(e, L, la, &sc.sh, sc.k, sc.v)
	e.RoPE(la.Q, sc.pos, c.Heads, cos, sin)
	e.RoPE(sc.k, sc.pos, c.KVHeads, cos, sin)
	v := &sc.views
	for i, kc := range caches {
		p := kc.Len
		storeRows(kc.K[l].SliceTo(&v[0], p, p+1), sc.k.SliceTo(&v[1], i, i+1))
		storeRows(kc.V[l].SliceTo(&v[2], p, p+1), sc.v.SliceTo(&v[3], i, i+1))
		s := compute.AttnShape{Batch: 1, Tq: 1, Tk: p + 1, QOffset: p,
			Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Scale: scale}
		e.Attention(la.Att.SliceTo(&v[4], i, i+1), la.Q.SliceTo(&v[5], i, i+1),
			kc.K[l].SliceTo(&v[6], 0, p+1), kc.V[l].SliceTo(&v[7], 0, p+1), nil, s)
	}
	m.mlp(e, l, la, &sc.sh, x, sc.A)
}
