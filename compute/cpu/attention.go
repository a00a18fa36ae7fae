package cpu

import (
	"math"
	"unsafe"

	"hone/compute"
	"hone/tensor"
)

// Attention is tiled like FlashAttention: a block of MR query rows (the
// GEMM micro-kernel's height) meets the keys NR at a time (its width), so
// the scores held are one MR x NR tile, computed by the micro-kernel from
// the packed block of queries and a packed panel of keys; the softmax is
// computed online (running max and sum per row, the output rescaled when
// the max grows). Keys and values are packed once per call.

var negInf = float32(math.Inf(-1))

// checkAttn validates an attention call like the reference engine does:
// k and v F32 (the backward), or with kv16 both F32 or both BF16 (the
// forward, whose cache may hold bf16).
func checkAttn(op string, s compute.AttnShape, q, k, v *tensor.Tensor, kv16 bool) {
	// each check is an if of its own: need's arguments would be boxed on
	// every call, which allocates (attention runs once a layer a token)
	if !(s.Batch >= 0 && s.Tq >= 0 && s.QOffset >= 0 && s.HeadDim > 0 && s.Scale > 0) {
		fail(op, "bad shape %+v", s)
	}
	if !(s.Heads > 0 && s.KVHeads > 0 && s.Heads%s.KVHeads == 0) {
		fail(op, "%d heads are not a multiple of %d kv heads", s.Heads, s.KVHeads)
	}
	if s.QOffset+s.Tq > s.Tk {
		fail(op, "queries at %d..%d need keys beyond Tk = %d", s.QOffset, s.QOffset+s.Tq, s.Tk)
	}
	if s.Seg != nil {
		if s.Tq != s.Tk || s.QOffset != 0 {
			fail(op, "segments need Tq == Tk and QOffset 0, have Tq %d, Tk %d, QOffset %d", s.Tq, s.Tk, s.QOffset)
		}
		if len(s.Seg) != s.Batch*s.Tk {
			fail(op, "%d segment ids for %d key rows", len(s.Seg), s.Batch*s.Tk)
		}
	}
	f32(op, "q", q)
	if kv16 && k != nil && v != nil && k.DType == tensor.BF16 && v.DType == tensor.BF16 {
		// bf16 keys and values
	} else {
		f32(op, "k", k)
		f32(op, "v", v)
	}
	if q.Rows() != s.Batch*s.Tq || q.Cols() != s.Heads*s.HeadDim {
		fail(op, "q %v is not [%d*%d, %d*%d]", q, s.Batch, s.Tq, s.Heads, s.HeadDim)
	}
	for _, t := range [2]*tensor.Tensor{k, v} {
		if t.Rows() != s.Batch*s.Tk || t.Cols() != s.KVHeads*s.HeadDim {
			fail(op, "k/v %v is not [%d*%d, %d*%d]", t, s.Batch, s.Tk, s.KVHeads, s.HeadDim)
		}
	}
}

// like checks that an optional tensor x (nil allowed when opt) is F32 with
// the rows and columns of t.
func like(op, name string, x, t *tensor.Tensor, opt bool) []float32 {
	if x == nil && opt {
		return nil
	}
	xv := f32(op, name, x)
	if x.Rows() != t.Rows() || x.Cols() != t.Cols() {
		fail(op, "%s %v does not match %v", name, x, t)
	}
	return xv
}

// maskTile sets to -Inf the scores of keys j0.. that sit in another
// segment than query position qp of sequence b.
func maskTile(sc []float32, s compute.AttnShape, b, qp, j0 int) {
	if s.Seg == nil {
		return
	}
	seg := s.Seg[b*s.Tk : (b+1)*s.Tk]
	want := seg[qp]
	for j := range sc {
		if seg[j0+j] != want {
			sc[j] = negInf
		}
	}
}

// attnPlan holds what the attention forward and backward share: the
// micro-kernel, and the keys (and values) of every (sequence, kv head)
// packed as B panels of the product Q·Kᵀ (k = HeadDim, n = keys).
type attnPlan struct {
	s             compute.AttnShape
	kern          f32Kernel
	tr8           trFunc
	hd, ldq, ldk  int
	group, kTiles int
	panel         int // elements of one packed panel: nr * hd
	kp, vp        []float32
	bufs          []*buf[float32] // scratch behind kp and vp, for release
	qv, kv, vv    []float32
	fast          *vecSet
	// kb, where not nil, is the bf16 kernel of a tiled attention over
	// bf16 keys and values (a prefill over a bf16 cache; attendBF16):
	// the keys are then packed into kp16 as its B panels, the values into
	// vp16 as pairs of rows, and the queries and probabilities rounded to
	// bf16 for the products
	kb         *bf16Kernel
	kp16, vp16 []uint16
	// vpan16 and kpr16 are the backward's values as B panels (dO·Vᵀ)
	// and keys as pairs of rows (dS·K)
	vpan16, kpr16 []uint16
	bufs16        []*buf[uint16]
}

func (e *Engine) newAttnPlan(s compute.AttnShape, q, k, v *tensor.Tensor, packV bool) *attnPlan {
	a := &attnPlan{s: s, kern: e.kern.f32, tr8: e.kern.tr8, hd: s.HeadDim,
		ldq: s.Heads * s.HeadDim, ldk: s.KVHeads * s.HeadDim, group: s.Heads / s.KVHeads,
		qv: q.F32(), kv: k.F32(), vv: v.F32(), fast: e.kern.vec}
	nr := a.kern.nr
	a.kTiles = (s.Tk + nr - 1) / nr
	a.panel = nr * a.hd
	a.kp = a.packKeys(a.kv)
	if packV {
		a.vp = a.packKeys(a.vv)
	}
	return a
}

// packKeys packs x [Batch*Tk, KVHeads*hd] as panels of nr rows, one run of
// kTiles panels per (sequence, kv head).
func (a *attnPlan) packKeys(x []float32) []float32 {
	s, nr := a.s, a.kern.nr
	ob := getBuf[float32](s.Batch * s.KVHeads * a.kTiles * a.panel)
	a.bufs = append(a.bufs, ob)
	out := ob.s
	for b := 0; b < s.Batch; b++ {
		for g := 0; g < s.KVHeads; g++ {
			op := operand{f: x[b*s.Tk*a.ldk+g*a.hd:], ld: a.ldk, t: true}
			base := (b*s.KVHeads + g) * a.kTiles * a.panel
			for t := 0; t < a.kTiles; t++ {
				packBF32(out[base+t*a.panel:base+(t+1)*a.panel], op, s.Tk, nr, t*nr, 0, a.hd, a.tr8)
			}
		}
	}
	return out
}

// release returns the plan's packed keys and values to the free list.
func (a *attnPlan) release() {
	for _, b := range a.bufs {
		putBuf(b)
	}
	for _, b := range a.bufs16 {
		putBuf(b)
	}
	a.bufs, a.kp, a.vp = nil, nil, nil
	a.bufs16, a.kp16, a.vp16, a.vpan16, a.kpr16 = nil, nil, nil, nil, nil
}

// keyPanel returns packed panel t of (b, g) from p (kp or vp).
func (a *attnPlan) keyPanel(p []float32, b, g, t int) *float32 {
	return &p[((b*a.s.KVHeads+g)*a.kTiles+t)*a.panel]
}

// packRows packs rows [i0, i0+mr) of head h of sequence b of x (laid out
// like q) as an A panel.
func (a *attnPlan) packRows(dst, x []float32, b, h, i0 int) {
	s := a.s
	op := operand{f: x[b*s.Tq*a.ldq+h*a.hd:], ld: a.ldq}
	packAF32(dst, op, s.Tq, a.kern.mr, i0, 0, a.hd, a.tr8)
}

// attendBF16 reports whether attention with shape s takes bf16 products
// (bf16Plan): over bf16 keys and values (kv16, a bf16 cache) or where s
// allows it (AttnShape.BF16), a tiled attention (more queries a sequence
// than the few-query path takes), on a CPU with the bf16 dot product and
// its value kernel, heads a multiple of 16 wide. The forward and the
// backward of a shape decide alike.
func (e *Engine) attendBF16(s compute.AttnShape, kv16 bool) bool {
	kb := e.kern.bf16
	return (kv16 || s.BF16) && kb != nil && kb.accTile4 != nil && kb.nr == e.kern.f32.nr &&
		kb.mr == e.kern.f32.mr && kb.nr%2 == 0 && s.HeadDim%16 == 0 && (s.Tq > gemvRows || s.Seg != nil)
}

// bf16Plan returns the plan of the tiled attention in bf16 products with
// float32 sums, as FlashAttention computes in bf16, or nil where
// attendBF16 says no. The scores are the dot products of the queries
// rounded to bf16 with the keys in bf16, the values are summed with the
// probabilities rounded to bf16; the softmax, its running maxima and sums
// and the output stay float32 (the backward: the output's gradient and
// dS rounded for their products too). k and v are bf16 (a cache) or
// float32, then rounded to bf16 once a call. For the forward the keys are
// packed as the bf16 kernel's B panels and the values as pairs of rows
// (accTileBF16); for the backward (back) the keys both ways and the
// values as B panels.
func (e *Engine) bf16Plan(s compute.AttnShape, q, k, v *tensor.Tensor, back bool) *attnPlan {
	kv16 := k.DType == tensor.BF16
	if !e.attendBF16(s, kv16) {
		return nil
	}
	kb := e.kern.bf16
	a := &attnPlan{s: s, kern: e.kern.f32, tr8: e.kern.tr8, hd: s.HeadDim,
		ldq: s.Heads * s.HeadDim, ldk: s.KVHeads * s.HeadDim, group: s.Heads / s.KVHeads,
		qv: q.F32(), fast: e.kern.vec, kb: kb}
	var kh, vh []uint16
	if kv16 {
		kh, vh = k.BF16(), v.BF16()
	} else {
		kr, vr := getBuf[uint16](k.Numel()), getBuf[uint16](v.Numel())
		a.bufs16 = append(a.bufs16, kr, vr)
		kh, vh = kr.s[:k.Numel()], vr.s[:v.Numel()]
		roundPairs(kb, kh, 0, k.F32(), 0, 1, len(kh))
		roundPairs(kb, vh, 0, v.F32(), 0, 1, len(vh))
	}
	a.kTiles = (s.Tk + kb.nr - 1) / kb.nr
	a.panel = kb.nr * a.hd // hd is even
	a.kp16 = a.pack16(kh, false)
	if back {
		a.vpan16 = a.pack16(vh, false)
		a.kpr16 = a.pack16(kh, true)
	} else {
		a.vp16 = a.pack16(vh, true)
	}
	return a
}

// pack16 packs the bf16 rows x [Batch*Tk, KVHeads*hd] for every (sequence,
// kv head), kTiles tiles of nr keys each: as the bf16 kernel's B panels of
// the product with the keys as columns (Q·Kᵀ), or with pairs the rows of
// keys 2q and 2q+1 interleaved (2*hd elements a pair; a zero row past the
// last key), as accTileBF16 takes them.
func (a *attnPlan) pack16(x []uint16, pairs bool) []uint16 {
	s, kb, hd := a.s, a.kb, a.hd
	nr := kb.nr
	ob := getBuf[uint16](s.Batch * s.KVHeads * a.kTiles * a.panel)
	a.bufs16 = append(a.bufs16, ob)
	out := ob.s
	for b := 0; b < s.Batch; b++ {
		for g := 0; g < s.KVHeads; g++ {
			base := (b*s.KVHeads + g) * a.kTiles * a.panel
			if !pairs {
				op := operand{h: x[b*s.Tk*a.ldk+g*hd:], ld: a.ldk, t: true}
				for t := 0; t < a.kTiles; t++ {
					packBBF16(out[base+t*a.panel:base+(t+1)*a.panel], op, s.Tk, kb, t*nr, 0, hd, a.tr8)
				}
				continue
			}
			rows := x[b*s.Tk*a.ldk:]
			for q := 0; 2*q < a.kTiles*nr; q++ {
				d := out[base+q*2*hd : base+(q+1)*2*hd]
				switch j := 2 * q; {
				case j+1 < s.Tk:
					kb.il(&d[0], &rows[j*a.ldk+g*hd], &rows[(j+1)*a.ldk+g*hd], hd)
				case j < s.Tk:
					for c, v := range rows[j*a.ldk+g*hd:][:hd] {
						d[2*c], d[2*c+1] = v, 0
					}
				default:
					clear(d)
				}
			}
		}
	}
	return out
}

// rowPairs writes rows [i0, i0+rows) of head h of sequence b of x (laid
// out like q) rounded to bf16 into dst as pairs of rows, the rows 2p and
// 2p+1 of the range interleaved (2*hd elements a pair, a zero row after
// an odd last), as accTileBF16 takes them; tmp holds rows*hd.
func (a *attnPlan) rowPairs(dst, tmp []uint16, x []float32, b, h, i0, rows int) {
	hd := a.hd
	roundPairs(a.kb, tmp, hd, x[(b*a.s.Tq+i0)*a.ldq+h*hd:], a.ldq, rows, hd)
	for p := 0; 2*p < rows; p++ {
		d := dst[p*2*hd : (p+1)*2*hd]
		if 2*p+1 < rows {
			a.kb.il(&d[0], &tmp[2*p*hd], &tmp[(2*p+1)*hd], hd)
			continue
		}
		for c, v := range tmp[2*p*hd:][:hd] {
			d[2*c], d[2*c+1] = v, 0
		}
	}
}

// transposePairs writes the first nk columns of rows rows of x (nr apart)
// transposed and rounded to bf16 into dst: column j at dst[j*ldd:], its
// rows in order and a zero after an odd last, so that each is pairs of
// rows (the weights of accTileBF16 for the rank-k updates of dk and dv).
// With rows a multiple of 16 (a whole step of the backward) it rounds the
// rows with kb's vector conversion, interleaves pairs of them and
// transposes the pairs as 32-bit words, eight rows at a time; tmp holds
// 2*rows*nr. Columns nk..nr of dst may be written too (ldd >= rows).
func transposePairs(kb *bf16Kernel, tr8 trFunc, dst []uint16, ldd int, x []float32, nr, rows, nk int, tmp []uint16) {
	if rows%16 == 0 && rows > 0 && nr%16 == 0 && ldd%2 == 0 && kb != nil && kb.il != nil && kb.cvt != nil && tr8 != nil {
		r16, il := tmp[:rows*nr], tmp[rows*nr:2*rows*nr]
		_ = dst[(nr-1)*ldd+rows-1]
		roundPairs(kb, r16, nr, x, nr, rows, nr)
		for p := 0; p < rows/2; p++ {
			kb.il(&il[p*2*nr], &r16[2*p*nr], &r16[(2*p+1)*nr], nr)
		}
		// il as 32-bit words: row p, column j = (x[2p][j], x[2p+1][j])
		for p := 0; p < rows/2; p += 8 {
			tr8((*float32)(unsafe.Pointer(&dst[2*p])), ldd/2, (*float32)(unsafe.Pointer(&il[p*2*nr])), nr, nr/8)
		}
		return
	}
	for j := range nk {
		d := dst[j*ldd : j*ldd+(rows+1)&^1]
		for i := range rows {
			d[i] = tensor.F32ToBF16(x[i*nr+j])
		}
		if rows%2 == 1 {
			d[rows] = 0
		}
	}
}

// panel16 returns packed bf16 tile t of (b, g) from p (kp16, vp16, vpan16
// or kpr16).
func (a *attnPlan) panel16(p []uint16, b, g, t int) []uint16 {
	o := ((b*a.s.KVHeads+g)*a.kTiles + t) * a.panel
	return p[o : o+a.panel]
}

// accValues adds to the block's output rows ob (ldq apart) the value rows
// of tile t of (b, g) weighted by the first nk probabilities of each of
// rows rows of sc (nr apart): accTile, or with kb accTileBF16 on the
// probabilities rounded into pb (rounded already when rounded is set).
func (a *attnPlan) accValues(ob []float32, rows int, sc []float32, nk int, pb []uint16, b, g, t int, rounded bool) {
	nr, hd := a.kern.nr, a.hd
	if a.kb == nil {
		accTile(a.fast, ob, a.ldq, hd, rows, sc, nr, nk, a.vv[(b*a.s.Tk+t*nr)*a.ldk+g*hd:], a.ldk)
		return
	}
	if !rounded {
		roundPairs(a.kb, pb, nr, sc, nr, rows, nk)
	}
	accTileBF16(a.kb, ob, a.ldq, hd, rows, pb, nr, (nk+1)/2, a.panel16(a.vp16, b, g, t), 2*hd)
}

// attendFew is Attention for a few queries per sequence (decoding): one
// task per (sequence, head) scores the queries against the keys in place
// (no packing: each key is read once per query), takes an exact softmax and
// sums the value rows. lv, when not nil, receives the log-sum-exps.
func (e *Engine) attendFew(o, lv, qv, kv, vv []float32, s compute.AttnShape) {
	fast := e.kern.vec
	hd, ldq, ldk, group := s.HeadDim, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim, s.Heads/s.KVHeads
	work := func(t int) {
		b, h := t/s.Heads, t%s.Heads
		g := h / group
		sb := getBuf[float32](s.QOffset + s.Tq)
		defer putBuf(sb)
		sc := sb.s
		kb := kv[b*s.Tk*ldk+g*hd:]
		vb := vv[b*s.Tk*ldk+g*hd:]
		for i := 0; i < s.Tq; i++ {
			row := (b*s.Tq + i) * ldq
			qi, oi := qv[row+h*hd:][:hd], o[row+h*hd:][:hd]
			n := min(s.Tk, s.QOffset+i+1) // keys visible to query i
			p := sc[:n]
			dots(fast, p, qi, kb, ldk)
			m := vmax(fast, p) * s.Scale
			l := vexp(fast, p, p, s.Scale, m)
			clear(oi)
			accRows(fast, oi, p, vb, ldk)
			inv := float32(1 / l)
			for d := range oi {
				oi[d] *= inv
			}
			if lv != nil {
				lv[(b*s.Heads+h)*s.Tq+i] = m + float32(math.Log(l))
			}
		}
	}
	tasks := s.Batch * s.Heads
	if 4*tasks*s.Tq*s.Tk*hd < parallelFlops {
		for t := range tasks {
			work(t)
		}
		return
	}
	e.pool.run(tasks, work)
}

// onequeryBF16 reports whether the one- and few-query attention over a
// bf16 cache (decoding) takes bf16 products, as the tiled attention over
// it does (bf16Plan): the query rounded to bf16 for the scores
// (scoresBF16), the probabilities rounded for the values (accPairsBF16),
// the softmax float32. It does where the CPU has their assembly, the
// heads are a multiple of 16 wide (as for bf16Plan) and the scale is
// positive (doPairs pads the scores with -Inf); elsewhere the cache is
// widened exactly.
func (e *Engine) onequeryBF16(s compute.AttnShape) bool {
	kb := e.kern.bf16
	return kb != nil && kb.scores != nil && kb.accPairs[1] != nil && s.HeadDim%16 == 0 && s.Scale > 0
}

// attendFewBF16 is the few-query attention over a bf16 cache in bf16
// products (onequeryBF16): each query as attendOne takes a sequence's one
// query (its keys, its ranges over the threads), so that a prompt
// prefilled a few tokens at a time gets, bit for bit, the attention that
// decoding it token by token gets.
func (e *Engine) attendFewBF16(o, lv, qv []float32, kh, vh []uint16, s compute.AttnShape) {
	ldq := s.Heads * s.HeadDim
	one := s
	one.Tq = 1
	qb := getBuf[float32](2*s.Batch*ldq + s.Batch*s.Heads)
	defer putBuf(qb)
	qi, oi := qb.s[:s.Batch*ldq], qb.s[s.Batch*ldq:2*s.Batch*ldq]
	var li []float32
	if lv != nil {
		li = qb.s[2*s.Batch*ldq:][:s.Batch*s.Heads]
	}
	for i := range s.Tq {
		one.QOffset = s.QOffset + i
		for b := range s.Batch {
			copy(qi[b*ldq:(b+1)*ldq], qv[(b*s.Tq+i)*ldq:])
		}
		e.attendOne(oi, li, qi, nil, nil, kh, vh, one, nil, nil)
		for b := range s.Batch {
			copy(o[(b*s.Tq+i)*ldq:][:ldq], oi[b*ldq:])
			for h := 0; li != nil && h < s.Heads; h++ {
				lv[(b*s.Heads+h)*s.Tq+i] = li[b*s.Heads+h]
			}
		}
	}
}

// attnRangeKeys is the fewest keys a range of attendOne gets: below that,
// handing a range to another thread and merging its partial softmax cost
// more than scoring it, and the other thread, which would otherwise read
// the next pass's weights ahead meanwhile (decoding), is worth more there.
// With the bf16 products (doPairs) on the 2-core Zen 4 machine, tokens of
// the SmolLM2-135M shape alternated in one process between this and 32
// (ranges from 64 keys on), as the median token over the weights' read:
// at 64-80 cached keys 0.899 against 0.862 where the two threads sit on
// different dies (two read twice what one does), 0.950-0.966 against
// 0.936-0.951 elsewhere; at 201-264 keys 0.866 against 0.844 and the same
// (0.926-0.941) elsewhere. Serial up to 512 keys lost at 401-464 (0.880-0.888
// against 0.900-0.908) and 701-764 (0.82 against 0.87).
const attnRangeKeys = 128

// attendOne is Attention for one query per sequence (decoding a token),
// with the keys cut into one contiguous range a thread (split-K, as
// flash-decoding does): a task takes one range of one sequence for every
// head, the heads that share a key head one after the other, so that it
// reads each of its key and value rows from memory once and in order, and
// leaves each head's partial softmax (running max, sum, weighted sum of
// values); the caller merges them. (With one task a head, as attendFew
// does, the SmolLM2-135M shape at 80 cached keys took 13-15 µs a layer
// against 1-2 µs of arithmetic, the key rows read three times, strided.)
//
// The keys and values are float32 (kf, vf) or bf16 (kh, vh, a bf16 cache:
// half the bytes to read), then taken in bf16 products where onequeryBF16
// says so (doPairs) and widened exactly elsewhere (doGroups). On one
// thread it asks for nextK and nextV, if any, a share before each head
// (AttentionAhead).
func (e *Engine) attendOne(o, lv, qv, kf, vf []float32, kh, vh []uint16, s compute.AttnShape, nextK, nextV []byte) {
	fast := e.kern.vec
	hd, ldq := s.HeadDim, s.Heads*s.HeadDim
	n := min(s.Tk, s.QOffset+1) // keys visible to the query
	parallel := e.threads > 1 && 4*s.Batch*s.Heads*n*hd >= parallelFlops
	parts := 1
	if parallel {
		parts = max(1, min(e.threads, n/attnRangeKeys))
	}
	// partials: per (sequence, range, head) the max, the sum and hd
	// weighted values
	stride := hd + 2
	pb := getBuf[float32](s.Batch * parts * s.Heads * stride)
	defer putBuf(pb)
	part := pb.s
	w := attnOneTask{e: e, part: part, qv: qv, kf: kf, vf: vf, kh: kh, vh: vh, s: s, n: n, parts: parts}
	if kh != nil && e.onequeryBF16(s) {
		qb := getBuf[uint16](s.Batch * ldq)
		defer putBuf(qb)
		w.q16 = qb.s[:s.Batch*ldq]
		roundPairs(e.kern.bf16, w.q16, ldq, qv, ldq, s.Batch, ldq)
	}
	if s.Batch*parts == 1 {
		// the other threads are reading weights ahead: only a serial
		// attention reads the next layer's cache
		w.nextK, w.nextV = nextK, nextV
	}
	if parallel && s.Batch*parts > 1 {
		wp := new(attnOneTask) // the serial path allocates nothing
		*wp = w
		e.pool.run(s.Batch*parts, wp.do)
	} else {
		for t := 0; t < s.Batch*parts; t++ {
			w.do(t)
		}
	}
	for b := 0; b < s.Batch; b++ {
		for h := 0; h < s.Heads; h++ {
			oi := o[b*ldq+h*hd:][:hd]
			m := float32(math.Inf(-1))
			for r := 0; r < parts; r++ {
				m = max(m, part[((b*parts+r)*s.Heads+h)*stride])
			}
			var l float64
			if parts == 1 {
				ph := part[(b*s.Heads+h)*stride:][:stride]
				l = float64(ph[1])
				copy(oi, ph[2:])
			} else {
				clear(oi)
				for r := 0; r < parts; r++ {
					ph := part[((b*parts+r)*s.Heads+h)*stride:][:stride]
					w := float32(math.Exp(float64(ph[0] - m)))
					l += float64(w) * float64(ph[1])
					axpy(fast, oi, ph[2:], w)
				}
			}
			inv := float32(1 / l)
			for d := range oi {
				oi[d] *= inv
			}
			if lv != nil {
				lv[b*s.Heads+h] = m + float32(math.Log(l))
			}
		}
	}
}

// attnOneTask is a task of attendOne: one range of keys of one sequence,
// every head; a struct and a method rather than a closure, so that the
// serial path of a decoding step allocates nothing.
type attnOneTask struct {
	e                *Engine
	part, qv, kf, vf []float32
	kh, vh           []uint16
	// q16, when not nil, is qv rounded to bf16: the bf16 products of
	// onequeryBF16 (doPairs)
	q16      []uint16
	s        compute.AttnShape
	n, parts int
	// nextK and nextV are read ahead, a share a head (serial only)
	nextK, nextV []byte
}

// ahead asks for share i of 2*KVHeads of the next layer's cached rows
// (nextK, nextV; serial only): doGroups and doPairs ask for one before
// each key head's first scores and one before each value head's sums.
func (w *attnOneTask) ahead(i int) {
	if ak, av := w.nextK, w.nextV; ak != nil {
		n := 2 * w.s.KVHeads
		prefetch(ak[len(ak)*i/n : len(ak)*(i+1)/n])
		prefetch(av[len(av)*i/n : len(av)*(i+1)/n])
	}
}

// do runs task t: its sequence's range of keys, every head.
func (w *attnOneTask) do(t int) {
	s, parts, n := &w.s, w.parts, w.n
	b, r := t/parts, t%parts
	j0, j1 := n*r/parts, n*(r+1)/parts
	r0 := (b*s.Tk + j0) * s.KVHeads * s.HeadDim
	if w.q16 != nil {
		w.doPairs(t, b, r0, j1-j0)
		return
	}
	if w.kh != nil {
		doGroups(w, t, b, r0, j1-j0, w.kh, w.vh, dotsGroupBF16, accRowsGroupBF16)
		return
	}
	doGroups(w, t, b, r0, j1-j0, w.kf, w.vf, dotsGroup, accRowsGroup)
}

// doGroups is do over a float32 cache (kh, vh as kf, vf; dotsGroup,
// accRowsGroup) or a bf16 one widened exactly (dotsGroupBF16,
// accRowsGroupBF16): task t's nk keys from element r0 of the cache
// (sequence b), the heads that share a key head taken together, every
// head's scores kept until its values are summed. Each key and value row
// is read (and widened) once for its group rather than once a head, and
// the scores are taken in blocks of attnBlockKeys keys, every group's in
// turn. The task's key rows are read into the caches first, all of them,
// by a loop of loads (load), and its value rows the same way before their
// sums: a burst of prefetches for all of them, as this did before, is in
// part dropped by the core, which then met most rows as misses (at 4000
// cached positions a bf16 token took 8.5% less with the loads). The sums
// are those of a head-by-head loop of dotsBF16 and accRowsBF16, or dots
// and accRows, bit for bit (TestAttentionOneGrouped). Over a float32
// cache, heads one at a time with the rows prefetched took a layer's
// attention at 4000 cached positions of the SmolLM2-135M shape 368-438 µs
// against 279-341 this way, at 1024 78-84 against 60-66 µs (the 2-core
// Zen 4 machine). Timings: docs/PERFORMANCE.md (tenth, eleventh and
// thirteenth sessions).
func doGroups[T float32 | uint16](w *attnOneTask, t, b, r0, nk int, kh, vh []T,
	dotsG func(v *vecSet, out []float32, ldo int, q []float32, hd int, k []T, ldk, nk int),
	accG func(v *vecSet, o []float32, ldo, hd, g int, p []float32, ldp, nk int, rows []T, ldv int)) {
	s, part, qv := &w.s, w.part, w.qv
	fast := w.e.kern.vec
	hd, ldq, ldk, group := s.HeadDim, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim, s.Heads/s.KVHeads
	stride := hd + 2
	sb := getBuf[float32](s.Heads * nk)
	defer putBuf(sb)
	sc := sb.s[:s.Heads*nk]
	load(kh[r0 : r0+nk*ldk])
	for c0 := 0; c0 < nk; c0 += attnBlockKeys {
		c1 := min(nk, c0+attnBlockKeys)
		for g := 0; g < s.KVHeads; g++ {
			if c0 == 0 {
				w.ahead(g)
			}
			h0 := g * group
			dotsG(fast, sc[h0*nk+c0:], nk, qv[b*ldq+h0*hd:][:group*hd], hd, kh[r0+c0*ldk+g*hd:], ldk, c1-c0)
		}
	}
	for h := 0; h < s.Heads; h++ {
		p := sc[h*nk : (h+1)*nk]
		m := vmax(fast, p) * s.Scale
		l := vexp(fast, p, p, s.Scale, m)
		ph := part[(t*s.Heads+h)*stride:][:stride]
		ph[0], ph[1] = m, float32(l)
		clear(ph[2:])
	}
	load(vh[r0 : r0+nk*ldk])
	for g := 0; g < s.KVHeads; g++ {
		w.ahead(s.KVHeads + g)
		h0 := g * group
		accG(fast, part[(t*s.Heads+h0)*stride+2:], stride, hd, group, sc[h0*nk:], nk, nk, vh[r0+g*hd:], ldk)
	}
}

// doPairs is doGroups in bf16 products (onequeryBF16): the scores of
// each head from its query rounded to bf16 (scoresBF16, sixteen keys at a
// time with one reduction for the sixteen), its probabilities rounded to
// bf16 after the float32 softmax (the sum from the float32 ones, as the
// tiled attention takes it; softmaxTileBF16 over the heads at once, which
// took the attention alone at 20 cached keys from 1.99 to 1.52 µs, at 80
// from 4.05 to 3.78, head by head against it in one process) and its values summed over pairs of keys
// (accPairsBF16, up to three heads of a group reading each value row
// once). Its keys and values are read into the caches first and the next
// layer's rows asked for as doGroups does; the scores go in blocks of
// attnBlockKeys keys, every head of every group in turn, so that a
// block's key rows stay in L1 for the heads that share them. On the
// 2-core Zen 4 machine, one thread, 2048 cached keys of the SmolLM2-135M
// shape hot in L2: scores 37.7 -> 20.6 µs, values 25.0 -> 10.8 µs against
// the widened kernels (docs/PERFORMANCE.md).
func (w *attnOneTask) doPairs(t, b, r0, nk int) {
	s, part, kh, vh, kb := &w.s, w.part, w.kh, w.vh, w.e.kern.bf16
	fast := w.e.kern.vec
	hd, ldq, ldk, group := s.HeadDim, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim, s.Heads/s.KVHeads
	// each head's scores and probabilities padded to whole vectors
	// (scores of -Inf, probabilities 0), so that one call of the softmax
	// tile kernel takes up to sixteen heads
	stride, ld := hd+2, (nk+15)&^15
	sb := getBuf[float32](s.Heads*ld + 32)
	defer putBuf(sb)
	hb := getBuf[uint16](s.Heads * ld)
	defer putBuf(hb)
	db := getBuf[float64](16)
	defer putBuf(db)
	sc, pb, q16 := sb.s[:s.Heads*ld], hb.s[:s.Heads*ld], w.q16[b*ldq:(b+1)*ldq]
	// the softmax's maxima (in and out) and sums, sixteen heads a call
	m, mo, sums := sb.s[s.Heads*ld:][:16], sb.s[s.Heads*ld+16:][:16], db.s[:16]
	load(kh[r0 : r0+nk*ldk])
	for c0 := 0; c0 < nk; c0 += attnBlockKeys {
		c1 := min(nk, c0+attnBlockKeys)
		for g := 0; g < s.KVHeads; g++ {
			if c0 == 0 {
				w.ahead(g)
			}
			for h := g * group; h < (g+1)*group; h++ {
				scoresBF16(kb, sc[h*ld+c0:h*ld+c1], q16[h*hd:(h+1)*hd], kh[r0+c0*ldk+g*hd:], ldk)
			}
		}
	}
	for h0 := 0; h0 < s.Heads; h0 += 16 {
		rows := min(16, s.Heads-h0)
		for i := range rows {
			m[i] = negInf
			for j := nk; j < ld; j++ {
				sc[(h0+i)*ld+j] = negInf
			}
		}
		softmaxTileBF16(kb, fast, sc[h0*ld:], ld, rows, ld, s.Scale, m[:rows], mo[:rows], sums[:rows], pb[h0*ld:], ld)
		for i := range rows {
			ph := part[(t*s.Heads+h0+i)*stride:][:stride]
			ph[0], ph[1] = mo[i], float32(sums[i])
			clear(ph[2:])
		}
	}
	load(vh[r0 : r0+nk*ldk])
	for g := 0; g < s.KVHeads; g++ {
		w.ahead(s.KVHeads + g)
		h0 := g * group
		accPairsBF16(kb, part[(t*s.Heads+h0)*stride+2:], stride, hd, group, pb[h0*ld:], ld, nk, vh[r0+g*hd:], ldk)
	}
}

// attnBlockKeys is the keys of one block of doGroups' scores: a multiple
// of four, so that dotsGroupBF16 takes the same keys four at a time as it
// would over the whole range (the sums stay bit for bit). At the
// SmolLM2-135M shape a block's key rows are 24 KiB. With each block
// asking for the next one's rows, 32 and 128 were slower at 4000 cached
// positions; with the rows loaded first (doGroups), both decode as 64
// does (x0.999, x1.001; docs/PERFORMANCE.md). doPairs takes its scores in
// the same blocks (a multiple of sixteen, scoresBF16's step, though its
// sums do not depend on the blocks): 16 keys 27.5-31.2 µs, 32 22.9-24.3,
// 64 20.6-21.5 and 128 19.6 µs for 2048 keys hot on one thread, nine
// heads; 64 kept.
const attnBlockKeys = 64

// Attention computes causal grouped-query attention with tiled online
// softmax, (sequence, head, block of queries) tasks spread over the cores.
// Over bf16 keys and values (a bf16 cache) it takes bf16 products where
// the CPU has them: one query a sequence and a few (decoding) through
// onequeryBF16's kernels, more (a prefill) through the tiled path's
// (attendBF16, bf16Plan), as does a shape that allows them
// (compute.AttnShape.BF16: the bf16 mode's training); elsewhere it widens
// them exactly. On the 2-core Zen 4
// machine that took a 4000-token prefill at the SmolLM2-135M shape from
// 5.8-6.1 s to 4.7-5.1 s and one of 1024 tokens from 0.86-0.89 to 0.79-0.85
// s (docs/PERFORMANCE.md); on the golden models the prefill's logits stay
// as close to Hugging Face's as the widened attention's.
func (e *Engine) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	e.attention(out, q, k, v, lse, s, nil, nil)
}

// AttentionAhead is Attention without log-sum-exps that, for one query
// per sequence, brings nextK and nextV (the next layer's cached keys and
// values, any dtype) into the caches while it computes
// (compute.AttentionAheader): a share of them before each head, whose
// arithmetic on rows already in L1 leaves the core's memory requests
// idle. On the 2-core Zen 4 machine, decoding the SmolLM2-135M shape,
// tokens alternated with tokens without it in one process (8 x 64 pairs,
// contexts 16-80, seven processes): the median pair 0.4% faster over all
// (-0.0 to 0.9%), 0.6-1.2% on the tokens where two threads read twice
// what one does (three processes with enough of them; docs/PERFORMANCE.md).
func (e *Engine) AttentionAhead(out, q, k, v *tensor.Tensor, s compute.AttnShape, nextK, nextV *tensor.Tensor) {
	var ahead [2][]byte
	if nextK != nil && nextV != nil {
		ahead = [2][]byte{nextK.Data, nextV.Data}
	}
	e.attention(out, q, k, v, nil, s, ahead[0], ahead[1])
}

// attention is Attention, reading nextK and nextV ahead in the one-query
// path (AttentionAhead).
func (e *Engine) attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape, nextK, nextV []byte) {
	const op = "Attention"
	checkAttn(op, s, q, k, v, true)
	o := like(op, "out", out, q, false)
	var lv []float32
	if lse != nil {
		lv = f32(op, "lse", lse)
		need(len(lv) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	}
	if s.Batch == 0 || s.Tq == 0 {
		return
	}
	if s.Tq == 1 && s.Seg == nil {
		if k.DType == tensor.BF16 {
			e.attendOne(o, lv, q.F32(), nil, nil, k.BF16(), v.BF16(), s, nextK, nextV)
		} else {
			e.attendOne(o, lv, q.F32(), k.F32(), v.F32(), nil, nil, s, nextK, nextV)
		}
		return
	}
	if k.DType == tensor.BF16 && s.Tq <= gemvRows && s.Seg == nil && e.onequeryBF16(s) {
		e.attendFewBF16(o, lv, q.F32(), k.BF16(), v.BF16(), s)
		return
	}
	a := e.bf16Plan(s, q, k, v, false)
	if a == nil && k.DType == tensor.BF16 {
		// a prefill over a bf16 cache without the bf16 path: the few-query
		// and tiled paths read float32 keys and values (its products
		// outweigh widening them), widened into scratch rather than
		// garbage the size of the cache
		kb, vb := widenBuf(k), widenBuf(v)
		defer putBuf(kb)
		defer putBuf(vb)
		k = tensor.FromF32(kb.s[:k.Numel()], k.Shape...)
		v = tensor.FromF32(vb.s[:v.Numel()], v.Shape...)
	}
	if a == nil && s.Tq <= gemvRows && s.Seg == nil {
		e.attendFew(o, lv, q.F32(), k.F32(), v.F32(), s)
		return
	}
	if a == nil {
		a = e.newAttnPlan(s, q, k, v, false)
	}
	defer a.release()
	mr, nr, hd := a.kern.mr, a.kern.nr, a.hd
	qBlocks := (s.Tq + mr - 1) / mr
	tasks := s.Batch * s.Heads * qBlocks
	work := func(t int) {
		b, h, qb := t/(s.Heads*qBlocks), t/qBlocks%s.Heads, t%qBlocks
		g := h / a.group
		i0 := qb * mr
		rows := min(mr, s.Tq-i0)
		qab := getBuf[float32](mr*hd + mr*nr + 2*mr)
		defer putBuf(qab)
		qa := qab.s
		sc := qa[mr*hd : mr*hd+mr*nr]
		var lArr, sums [16]float64
		m, l := qa[mr*hd+mr*nr:mr*hd+mr*nr+mr], lArr[:mr]
		mo := qa[mr*hd+mr*nr+mr : mr*hd+mr*nr+2*mr]
		// with bf16 products: the block's queries as the kernel's A panel
		// of bf16 pairs, and the probabilities rounded for the values
		var qa16, pb []uint16
		if a.kb != nil {
			b16 := getBuf[uint16](mr*hd + mr*nr)
			defer putBuf(b16)
			qa16, pb = b16.s[:mr*hd], b16.s[mr*hd:]
			packABF16(qa16, operand{f: a.qv[b*s.Tq*a.ldq+h*hd:], ld: a.ldq}, s.Tq, a.kb, i0, 0, hd, a.tr8)
		} else {
			a.packRows(qa, a.qv, b, h, i0)
		}
		for i := range rows {
			m[i] = negInf
			clear(o[(b*s.Tq+i0+i)*a.ldq+h*hd:][:hd])
		}
		ob := o[(b*s.Tq+i0)*a.ldq+h*hd:]
		// grow raises row i's running max to mx (a shift of its
		// exponentials), rescaling its sum and output so far
		grow := func(i int, mx float32) {
			if !(mx > m[i]) {
				return
			}
			if m[i] != negInf {
				c := float32(math.Exp(float64(m[i] - mx)))
				oi := ob[i*a.ldq:][:hd]
				for d := range oi {
					oi[d] *= c
				}
				l[i] *= float64(c)
			}
			m[i] = mx
		}
		last := s.QOffset + i0 + rows - 1 // the block's last query position
		for t := 0; t*nr <= last; t++ {
			j0 := t * nr
			if a.kb != nil {
				a.kb.fn(hd/2, &qa16[0], &a.panel16(a.kp16, b, g, t)[0], &sc[0], nr, 0)
			} else {
				a.kern.fn(hd, &qa[0], a.keyPanel(a.kp, b, g, t), &sc[0], nr, 0)
			}
			if s.Seg == nil && j0+nr-1 <= s.QOffset+i0 {
				// every row sees every key of the tile: the softmax's step
				// for the whole tile in one call
				if a.kb != nil {
					softmaxTileBF16(a.kb, a.fast, sc, nr, rows, nr, s.Scale, m, mo, sums[:rows], pb, nr)
				} else {
					softmaxTile(a.fast, sc, nr, rows, nr, s.Scale, m, mo, sums[:rows])
				}
				for i := range rows {
					grow(i, mo[i])
					l[i] += sums[i]
				}
				a.accValues(ob, rows, sc, nr, pb, b, g, t, a.kb != nil)
				continue
			}
			// the tile's keys that some row of the block sees: the
			// probabilities of the others, and of rows that see none of
			// them, are made zero, so that the block's value sums are one
			// accTile
			nmax := min(nr, last+1-j0, s.Tk-j0)
			for i := range rows {
				qp := s.QOffset + i0 + i
				n := min(nr, qp+1-j0)
				row := sc[i*nr : i*nr+nmax]
				if n <= 0 {
					clear(row)
					continue
				}
				// scores are scaled inside the max and the exp (Scale > 0:
				// the max of the scaled scores is the scaled max)
				tile := row[:n]
				maskTile(tile, s, b, qp, j0)
				tm := vmax(a.fast, tile)
				if tm == negInf {
					clear(row)
					continue
				}
				grow(i, tm*s.Scale)
				l[i] += vexp(a.fast, tile, tile, s.Scale, m[i])
				clear(row[n:])
			}
			a.accValues(ob, rows, sc, nmax, pb, b, g, t, false)
		}
		for i := range rows {
			oi := o[(b*s.Tq+i0+i)*a.ldq+h*hd:][:hd]
			inv := float32(1 / l[i])
			for d := range oi {
				oi[d] *= inv
			}
			if lv != nil {
				lv[(b*s.Heads+h)*s.Tq+i0+i] = m[i] + float32(math.Log(l[i]))
			}
		}
	}
	if s.Batch*s.Tq*s.Tk*s.Heads*hd < minParallel || e.threads == 1 {
		for t := 0; t < tasks; t++ {
			work(t)
		}
		return
	}
	e.pool.run(tasks, work)
}

// AttentionBackward accumulates dq, dk and dv (any may be nil), recomputing
// each tile of probabilities from lse. A task owns one (sequence, kv head)
// and a range of keys, so its dk and dv rows are its own; when there are
// fewer (sequence, kv head) pairs than cores, the keys are split too and
// each task adds its share of dq into a private buffer, reduced in order
// at the end.
func (e *Engine) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "AttentionBackward"
	checkAttn(op, s, q, k, v, false)
	ov := like(op, "out", out, q, false)
	gv := like(op, "dout", dout, q, false)
	dqv := like(op, "dq", dq, q, true)
	dkv := like(op, "dk", dk, k, true)
	dvv := like(op, "dv", dv, v, true)
	lv := f32(op, "lse", lse)
	need(len(lv) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	if (dqv == nil && dkv == nil && dvv == nil) || s.Batch == 0 || s.Tq == 0 {
		return
	}
	a := e.bf16Plan(s, q, k, v, true)
	if a == nil {
		a = e.newAttnPlan(s, q, k, v, true)
	}
	defer a.release()
	mr, nr, hd := a.kern.mr, a.kern.nr, a.hd
	pairs := s.Batch * s.KVHeads
	threads := e.threads
	if s.Batch*s.Tq*s.Tk*s.Heads*hd < minParallel {
		threads = 1
	}
	chunks := 1
	if pairs < 2*threads && threads > 1 {
		chunks = min(a.kTiles, (4*threads+pairs-1)/pairs)
	}
	tasks := pairs * chunks
	// Split the key panels so that each chunk holds about the same work:
	// key j is met by the queries at positions >= j, so early keys cost
	// more under the causal mask.
	bounds := make([]int, chunks+1)
	{
		work := make([]float64, a.kTiles+1) // work[t]: panels before t
		for t := 0; t < a.kTiles; t++ {
			w := 0.0
			for j := t * nr; j < min(s.Tk, (t+1)*nr); j++ {
				w += float64(max(0, s.Tq-max(0, j-s.QOffset)))
			}
			work[t+1] = work[t] + w
		}
		for c, t := 1, 0; c < chunks; c++ {
			for t < a.kTiles && work[t] < work[a.kTiles]*float64(c)/float64(chunks) {
				t++
			}
			bounds[c] = max(t, bounds[c-1])
		}
		bounds[chunks] = a.kTiles
	}
	// D[i] = dout_i · out_i per query row and head, shared by all tasks;
	// with bf16 products from dout rounded as dP = dout·Vᵀ takes it, so
	// that dP - D is zero where it should be (a row that sees one key)
	ddb := getBuf[float32](s.Batch * s.Tq * s.Heads)
	defer putBuf(ddb)
	dd := ddb.s
	gd := gv
	if a.kb != nil {
		gb, hb := getBuf[float32](len(gv)), getBuf[uint16](len(gv))
		defer putBuf(gb)
		defer putBuf(hb)
		roundPairs(a.kb, hb.s, 0, gv, 0, 1, len(gv))
		gd = gb.s[:len(gv)]
		for i, h := range hb.s[:len(gv)] {
			gd[i] = tensor.BF16ToF32(h)
		}
	}
	for r := range dd {
		dd[r] = dot(a.fast, gd[r*hd:(r+1)*hd], ov[r*hd:(r+1)*hd])
	}
	var dqParts [][]float32
	var dqBufs []*buf[float32]
	if chunks > 1 && dqv != nil {
		dqParts = make([][]float32, tasks)
		dqBufs = make([]*buf[float32], tasks)
		defer func() {
			for _, b := range dqBufs {
				if b != nil {
					putBuf(b)
				}
			}
		}()
	}
	qBlocks := (s.Tq + mr - 1) / mr
	work := func(t int) {
		pr, c := t/chunks, t%chunks
		b, g := pr/s.KVHeads, pr%s.KVHeads
		ta, tb := bounds[c], bounds[c+1] // key panels
		if ta == tb {
			return
		}
		ja := ta * nr
		// a step takes bwdBlocks query blocks at once: their probabilities
		// and dS for a key tile side by side, so that the updates of dk
		// and dv rows sum over all their rows in one call
		scb := getBuf[float32](2*bwdBlocks*mr*hd + 2*bwdBlocks*mr*nr)
		defer putBuf(scb)
		scratch := scb.s
		qa, ga := scratch[:bwdBlocks*mr*hd], scratch[bwdBlocks*mr*hd:2*bwdBlocks*mr*hd]
		sc := scratch[2*bwdBlocks*mr*hd : 2*bwdBlocks*mr*hd+bwdBlocks*mr*nr]
		dp := scratch[2*bwdBlocks*mr*hd+bwdBlocks*mr*nr:]
		// with bf16 products: the step's queries and output gradients as
		// A panels (qa16, ga16) and as pairs of rows (qp16, gp16), dS
		// rounded (ds16), and P or dS transposed into pairs of rows (pt16)
		var qa16, ga16, qp16, gp16, ds16, pt16, tt16, tmp16 []uint16
		var kb []float32
		ldt := bwdBlocks * mr // pt16's row stride: the step's rows (mr is even)
		if a.kb != nil {
			n, m := bwdBlocks*mr*hd, bwdBlocks*mr*nr
			sb := getBuf[uint16](5*n + 3*m + nr*ldt)
			defer putBuf(sb)
			qa16, ga16, qp16, gp16, tmp16 = sb.s[:n], sb.s[n:2*n], sb.s[2*n:3*n], sb.s[3*n:4*n], sb.s[4*n:5*n]
			ds16, tt16, pt16 = sb.s[5*n:5*n+m], sb.s[5*n+m:5*n+3*m], sb.s[5*n+3*m:]
		} else {
			kb = a.kv[b*s.Tk*a.ldk+g*hd:]
		}
		var dkb, dvb []float32
		if dkv != nil {
			dkb = dkv[b*s.Tk*a.ldk+g*hd:]
		}
		if dvv != nil {
			dvb = dvv[b*s.Tk*a.ldk+g*hd:]
		}
		var dqLocal []float32
		if dqParts != nil {
			dqBufs[t] = getBuf[float32](s.Tq * a.group * hd)
			dqLocal = dqBufs[t].s
			clear(dqLocal)
			dqParts[t] = dqLocal
		}
		for h := g * a.group; h < (g+1)*a.group; h++ {
			for qs := max(0, ja-s.QOffset) / mr; qs < qBlocks; qs += bwdBlocks {
				subs := min(bwdBlocks, qBlocks-qs)
				i0 := qs * mr
				rows := min(subs*mr, s.Tq-i0) // the step's query rows
				if a.kb != nil {
					for u := range subs {
						packABF16(qa16[u*mr*hd:], operand{f: a.qv[b*s.Tq*a.ldq+h*hd:], ld: a.ldq}, s.Tq, a.kb, i0+u*mr, 0, hd, a.tr8)
						packABF16(ga16[u*mr*hd:], operand{f: gv[b*s.Tq*a.ldq+h*hd:], ld: a.ldq}, s.Tq, a.kb, i0+u*mr, 0, hd, a.tr8)
					}
					a.rowPairs(qp16, tmp16, a.qv, b, h, i0, rows)
					a.rowPairs(gp16, tmp16, gv, b, h, i0, rows)
				} else {
					for u := range subs {
						a.packRows(qa[u*mr*hd:], a.qv, b, h, i0+u*mr)
						a.packRows(ga[u*mr*hd:], gv, b, h, i0+u*mr)
					}
				}
				last := s.QOffset + i0 + rows - 1
				for t := ta; t < tb && t*nr <= last; t++ {
					j0 := t * nr
					nmax := min(nr, last+1-j0, s.Tk-j0)
					for u := range subs {
						iu := u * mr // the block's first row in the step
						ru := min(mr, rows-iu)
						if s.QOffset+i0+iu+ru-1 < j0 {
							// the block sees none of the tile's keys
							clear(sc[iu*nr : (iu+ru-1)*nr+nmax])
							clear(dp[iu*nr : (iu+ru-1)*nr+nmax])
							continue
						}
						if a.kb != nil {
							a.kb.fn(hd/2, &qa16[u*mr*hd], &a.panel16(a.kp16, b, g, t)[0], &sc[iu*nr], nr, 0)
							a.kb.fn(hd/2, &ga16[u*mr*hd], &a.panel16(a.vpan16, b, g, t)[0], &dp[iu*nr], nr, 0)
						} else {
							a.kern.fn(hd, &qa[u*mr*hd], a.keyPanel(a.kp, b, g, t), &sc[iu*nr], nr, 0)
							a.kern.fn(hd, &ga[u*mr*hd], a.keyPanel(a.vp, b, g, t), &dp[iu*nr], nr, 0)
						}
						if s.Seg == nil && nmax == nr && j0+nr-1 <= s.QOffset+i0+iu {
							// every row of the block sees every key of the
							// tile: P and dS for the block in one call
							dsTile(a.fast, sc[iu*nr:], dp[iu*nr:], nr, ru, nr, s.Scale,
								lv[(b*s.Heads+h)*s.Tq+i0+iu:], dd[(b*s.Tq+i0+iu)*s.Heads+h:], s.Heads)
							continue
						}
						for i := iu; i < iu+ru; i++ {
							qp := s.QOffset + i0 + i
							n := max(0, min(nmax, qp+1-j0))
							pt, dt := sc[i*nr:i*nr+nmax], dp[i*nr:i*nr+nmax]
							clear(pt[n:])
							clear(dt[n:])
							if n == 0 {
								continue
							}
							pt, dt = pt[:n], dt[:n]
							r := (b*s.Tq+i0+i)*s.Heads + h
							maskTile(pt, s, b, qp, j0)
							vexp(a.fast, pt, pt, s.Scale, lv[(b*s.Heads+h)*s.Tq+i0+i])
							di := dd[r]
							for j := range dt {
								dt[j] = pt[j] * (dt[j] - di) * s.Scale
							}
						}
					}
					if a.kb != nil {
						a.backBF16(dqLocal, dqv, dkb, dvb, sc, dp, ds16, pt16, tt16, ldt, qp16, gp16, b, g, h, t, i0, rows, nmax)
						continue
					}
					// dq += dS·K over the step's rows (the rows that see
					// none of the tile's keys add zeros)
					switch {
					case dqLocal != nil:
						accTile(a.fast, dqLocal[(i0*a.group+h-g*a.group)*hd:], a.group*hd, hd, rows, dp, nr, nmax, kb[j0*a.ldk:], a.ldk)
					case dqv != nil:
						accTile(a.fast, dqv[((b*s.Tq+i0)*s.Heads+h)*hd:], a.ldq, hd, rows, dp, nr, nmax, kb[j0*a.ldk:], a.ldk)
					}
					// dv += Pᵀ·dout and dk += dSᵀ·q over the step's rows.
					rb := ((b*s.Tq+i0)*s.Heads + h) * hd
					if dvb != nil {
						rankK(a.fast, dvb[j0*a.ldk:], a.ldk, sc, nr, gv[rb:], a.ldq, nmax, rows, hd)
					}
					if dkb != nil {
						rankK(a.fast, dkb[j0*a.ldk:], a.ldk, dp, nr, a.qv[rb:], a.ldq, nmax, rows, hd)
					}
				}
			}
		}
	}
	if threads == 1 {
		for t := 0; t < tasks; t++ {
			work(t)
		}
	} else {
		e.pool.run(tasks, work)
	}
	if dqParts == nil {
		return
	}
	// Reduce the private dq shares in chunk order, query rows across the
	// cores.
	e.rows(s.Batch*s.Tq, s.Heads*hd*chunks, func(r0, r1 int) {
		for row := r0; row < r1; row++ {
			b, i := row/s.Tq, row%s.Tq
			for g := 0; g < s.KVHeads; g++ {
				for c := 0; c < chunks; c++ {
					part := dqParts[(b*s.KVHeads+g)*chunks+c]
					if part == nil {
						continue
					}
					for hh := 0; hh < a.group; hh++ {
						r := (b*s.Tq+i)*s.Heads + g*a.group + hh
						axpy(a.fast, dqv[r*hd:(r+1)*hd], part[(i*a.group+hh)*hd:][:hd], 1)
					}
				}
			}
		}
	})
}

// backBF16 is the bf16 products' part of a step of AttentionBackward for
// key tile t: dq += dS·K over the step's rows (into dqLocal, a task's
// share, or dqv), dv += Pᵀ·dout and dk += dSᵀ·q over the tile's nmax key
// rows, with dS (dp) and P (sc) rounded to bf16, K, q and dout as pairs
// of rows (kpr16, qp16, gp16).
func (a *attnPlan) backBF16(dqLocal, dqv, dkb, dvb, sc, dp []float32, ds16, pt16, tt16 []uint16, ldt int, qp16, gp16 []uint16, b, g, h, t, i0, rows, nmax int) {
	s, nr, hd := a.s, a.kern.nr, a.hd
	j0 := t * nr
	if dqLocal != nil || dqv != nil {
		roundPairs(a.kb, ds16, nr, dp, nr, rows, nmax)
		kp := a.panel16(a.kpr16, b, g, t)
		if dqLocal != nil {
			accTileBF16(a.kb, dqLocal[(i0*a.group+h-g*a.group)*hd:], a.group*hd, hd, rows, ds16, nr, (nmax+1)/2, kp, 2*hd)
		} else {
			accTileBF16(a.kb, dqv[((b*s.Tq+i0)*s.Heads+h)*hd:], a.ldq, hd, rows, ds16, nr, (nmax+1)/2, kp, 2*hd)
		}
	}
	if dvb != nil {
		transposePairs(a.kb, a.tr8, pt16, ldt, sc, nr, rows, nmax, tt16)
		accTileBF16(a.kb, dvb[j0*a.ldk:], a.ldk, hd, nmax, pt16, ldt, (rows+1)/2, gp16, 2*hd)
	}
	if dkb != nil {
		transposePairs(a.kb, a.tr8, pt16, ldt, dp, nr, rows, nmax, tt16)
		accTileBF16(a.kb, dkb[j0*a.ldk:], a.ldk, hd, nmax, pt16, ldt, (rows+1)/2, qp16, 2*hd)
	}
}

// widenBuf returns a scratch buffer holding the bf16 t widened to float32.
func widenBuf(t *tensor.Tensor) *buf[float32] {
	h := t.BF16()
	b := getBuf[float32](len(h))
	for i, x := range h {
		b.s[i] = tensor.BF16ToF32(x)
	}
	return b
}

// bwdBlocks is how many query blocks (of the micro-kernel's height) a step
// of AttentionBackward takes together: the rank-k updates of dk and dv
// then sum over their rows in one call each (kk = 4 x 8 rows instead of
// 8), each key row loaded and stored once for them (docs/PERFORMANCE.md,
// eleventh session).
const bwdBlocks = 4
