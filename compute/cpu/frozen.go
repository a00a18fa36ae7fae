package cpu

import (
	"sync"
	"unsafe"

	"hone/compute"
	"hone/tensor"
)

var _ compute.Freezer = (*Engine)(nil)

// DefaultFrozenBudget is how many bytes of packed panels an engine keeps
// for frozen weights unless SetFrozenBudget says otherwise. A bf16 weight
// takes twice its size (packed for the forward product and for the input
// gradient), and a call to Freeze keeps its weights only when all of them
// fit: SmolLM2-135M's (540 MB) do, a 1B model's (5 GB) do not, and its
// products pack the weights as they go, taking no memory for it.
const DefaultFrozenBudget = 1 << 30

// frozenSet holds the engine's frozen weights and their packed panels.
type frozenSet struct {
	mu     sync.Mutex
	budget int64
	used   int64
	w      map[*byte]*frozenW
}

// frozenW is one frozen weight: its panels for op(B) = Wᵀ (nt, a linear
// layer's forward) and op(B) = W (nn, the input gradient), made on first
// use.
type frozenW struct {
	t      *tensor.Tensor
	mu     sync.Mutex
	nt, nn *packedB
	tried  [2]bool // a packing was attempted (refused ones are not retried)
}

// packedB is every panel of one op(B), as plan.run would pack them: k block
// after k block (the blocks of blocks(k, kc, step)), each holding the
// nPanels panels of nr columns, panel jp of the block that starts at p0 at
// offset nPanels*nr*p0 + jp*w*nr.
type packedB struct {
	n, k, nr, kc, step int
	data               *buf[uint16]
	bytes              int64 // counted against the budget
}

// panel returns panel jp of the k block [p0, p0+w).
func (p *packedB) panel(p0, w, jp int) *uint16 {
	nPanels := (p.n + p.nr - 1) / p.nr
	return &p.data.s[nPanels*p.nr*p0+jp*w*p.nr]
}

// SetFrozenBudget sets how many bytes of packed panels the engine may keep
// for frozen weights (0 keeps none).
func (e *Engine) SetFrozenBudget(bytes int64) {
	e.frozen.mu.Lock()
	e.frozen.budget = bytes
	e.frozen.mu.Unlock()
}

// Freeze implements compute.Freezer: products by the bf16 weights in ts
// (others are ignored) use panels packed once, on first use, when the
// panels of all of them fit the engine's budget; otherwise Freeze keeps
// none of them.
func (e *Engine) Freeze(ts ...*tensor.Tensor) {
	f := &e.frozen
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		f.w = map[*byte]*frozenW{}
	}
	var add []*tensor.Tensor
	need := f.used
	for _, t := range ts {
		if t == nil || t.DType != tensor.BF16 || len(t.Shape) != 2 || len(t.Data) == 0 {
			continue
		}
		if _, ok := f.w[&t.Data[0]]; !ok {
			add = append(add, t)
			need += 2 * int64(len(t.Data)+4*bufPad) // both orientations, about (packing checks again)
		}
	}
	if need > f.budget {
		return
	}
	for _, t := range add {
		f.w[&t.Data[0]] = &frozenW{t: t}
	}
}

// Thaw implements compute.Freezer, releasing the panels kept for ts.
func (e *Engine) Thaw(ts ...*tensor.Tensor) {
	f := &e.frozen
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range ts {
		if t == nil || len(t.Data) == 0 {
			continue
		}
		fw := f.w[&t.Data[0]]
		if fw == nil {
			continue
		}
		delete(f.w, &t.Data[0])
		for _, p := range []*packedB{fw.nt, fw.nn} {
			if p != nil {
				f.used -= p.bytes
			}
		}
	}
}

// frozenPanels returns the packed op(B) of a frozen weight b (tb: op(B) =
// bᵀ), packing it on first use, or nil when b is not frozen, is not the
// whole tensor, or its panels do not fit the budget.
func (e *Engine) frozenPanels(b *tensor.Tensor, tb bool, n, k int) *packedB {
	kb := e.kern.bf16
	f := &e.frozen
	if kb == nil || len(b.Data) == 0 {
		return nil
	}
	f.mu.Lock()
	fw := f.w[&b.Data[0]]
	f.mu.Unlock()
	if fw == nil || len(fw.t.Data) != len(b.Data) || fw.t.Cols() != b.Cols() {
		return nil
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	slot, i := &fw.nn, 0
	if tb {
		slot, i = &fw.nt, 1
	}
	if *slot != nil || fw.tried[i] {
		return *slot
	}
	fw.tried[i] = true
	nPanels := (n + kb.nr - 1) / kb.nr
	kpad := (k + 1) &^ 1
	size := int64(nPanels*kb.nr*kpad+bufPad) * 2
	f.mu.Lock()
	if f.used+size > f.budget {
		f.mu.Unlock()
		return nil
	}
	f.used += size
	f.mu.Unlock()
	p := &packedB{n: n, k: k, nr: kb.nr, kc: kcBF16, step: 2, bytes: size,
		data: &buf[uint16]{raw: make([]uint16, nPanels*kb.nr*kpad+bufPad)}}
	p.data.align(nPanels * kb.nr * kpad)
	bo := operand{h: b.BF16(), ld: b.Cols(), t: tb}
	bs := blocks(k, p.kc, p.step)
	e.pool.run(nPanels, func(jp int) {
		for bi := 0; bi+1 < len(bs); bi++ {
			p0, p1 := bs[bi], bs[bi+1]
			w := (p1 - p0 + 1) &^ 1
			dst := unsafe.Slice(p.panel(p0, w, jp), w*kb.nr)
			packBBF16(dst, bo, n, kb, jp*kb.nr, p0, p1, e.kern.tr8)
		}
	})
	*slot = p
	return p
}
