package cpu

import (
	"math"

	"hone/compute"
	"hone/tensor"
)

// Attention tiling: a query row meets the keys attnTile at a time, so the
// scores it holds are one tile, never a row (let alone the Tq x Tk matrix)
// of scores; the softmax is computed online (running max and sum, the
// output rescaled when the max grows), as in FlashAttention.
const (
	attnTile   = 64 // keys per tile
	attnQBlock = 16 // query rows per forward task
)

var negInf = float32(math.Inf(-1))

// checkAttn validates an attention call like the reference engine does.
func checkAttn(op string, s compute.AttnShape, q, k, v *tensor.Tensor) {
	need(s.Batch >= 0 && s.Tq >= 0 && s.QOffset >= 0 && s.HeadDim > 0, op, "bad shape %+v", s)
	need(s.Heads > 0 && s.KVHeads > 0 && s.Heads%s.KVHeads == 0, op, "%d heads are not a multiple of %d kv heads", s.Heads, s.KVHeads)
	need(s.QOffset+s.Tq <= s.Tk, op, "queries at %d..%d need keys beyond Tk = %d", s.QOffset, s.QOffset+s.Tq, s.Tk)
	if s.Seg != nil {
		need(s.Tq == s.Tk && s.QOffset == 0, op, "segments need Tq == Tk and QOffset 0, have Tq %d, Tk %d, QOffset %d", s.Tq, s.Tk, s.QOffset)
		need(len(s.Seg) == s.Batch*s.Tk, op, "%d segment ids for %d key rows", len(s.Seg), s.Batch*s.Tk)
	}
	f32(op, "q", q)
	f32(op, "k", k)
	f32(op, "v", v)
	need(q.Rows() == s.Batch*s.Tq && q.Cols() == s.Heads*s.HeadDim, op, "q %v is not [%d*%d, %d*%d]", q, s.Batch, s.Tq, s.Heads, s.HeadDim)
	for _, t := range []*tensor.Tensor{k, v} {
		need(t.Rows() == s.Batch*s.Tk && t.Cols() == s.KVHeads*s.HeadDim, op, "k/v %v is not [%d*%d, %d*%d]", t, s.Batch, s.Tk, s.KVHeads, s.HeadDim)
	}
}

// like checks that an optional tensor x (nil allowed when opt) is F32 with
// the rows and columns of t.
func like(op, name string, x, t *tensor.Tensor, opt bool) []float32 {
	if x == nil && opt {
		return nil
	}
	xv := f32(op, name, x)
	need(x.Rows() == t.Rows() && x.Cols() == t.Cols(), op, "%s %v does not match %v", name, x, t)
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

// Attention computes causal grouped-query attention with tiled online
// softmax, (sequence, head, block of queries) tasks spread over the cores.
func (e *Engine) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	const op = "Attention"
	checkAttn(op, s, q, k, v)
	o := like(op, "out", out, q, false)
	var lv []float32
	if lse != nil {
		lv = f32(op, "lse", lse)
		need(len(lv) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	}
	qv, kv, vv := q.F32(), k.F32(), v.F32()
	hd, group := s.HeadDim, s.Heads/s.KVHeads
	ldq, ldk := s.Heads*hd, s.KVHeads*hd
	qBlocks := (s.Tq + attnQBlock - 1) / attnQBlock
	tasks := s.Batch * s.Heads * qBlocks
	fast := e.kern.vec
	work := func(t int) {
		b, h, qb := t/(s.Heads*qBlocks), t/qBlocks%s.Heads, t%qBlocks
		g := h / group
		var sc [attnTile]float32
		kb := kv[b*s.Tk*ldk+g*hd:]
		vb := vv[b*s.Tk*ldk+g*hd:]
		for i := qb * attnQBlock; i < min(s.Tq, (qb+1)*attnQBlock); i++ {
			qp := s.QOffset + i
			qi := qv[(b*s.Tq+i)*ldq+h*hd:][:hd]
			oi := o[(b*s.Tq+i)*ldq+h*hd:][:hd]
			clear(oi)
			m, l := negInf, 0.0
			for j0 := 0; j0 <= qp; j0 += attnTile {
				tile := sc[:min(attnTile, qp+1-j0)]
				dots(fast, tile, qi, kb[j0*ldk:], ldk)
				for j := range tile {
					tile[j] *= s.Scale
				}
				maskTile(tile, s, b, qp, j0)
				tm := vmax(fast, tile)
				if tm == negInf {
					continue
				}
				if tm > m {
					if m != negInf {
						c := float32(math.Exp(float64(m - tm)))
						for d := range oi {
							oi[d] *= c
						}
						l *= float64(c)
					}
					m = tm
				}
				l += vexp(fast, tile, tile, 1, m)
				accRows(fast, oi, tile, vb[j0*ldk:], ldk)
			}
			inv := float32(1 / l)
			for d := range oi {
				oi[d] *= inv
			}
			if lv != nil {
				lv[(b*s.Heads+h)*s.Tq+i] = m + float32(math.Log(l))
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
	checkAttn(op, s, q, k, v)
	ov := like(op, "out", out, q, false)
	gv := like(op, "dout", dout, q, false)
	dqv := like(op, "dq", dq, q, true)
	dkv := like(op, "dk", dk, k, true)
	dvv := like(op, "dv", dv, v, true)
	lv := f32(op, "lse", lse)
	need(len(lv) == s.Batch*s.Heads*s.Tq, op, "lse %v is not [%d, %d, %d]", lse, s.Batch, s.Heads, s.Tq)
	if dqv == nil && dkv == nil && dvv == nil {
		return
	}
	qv, kv, vv := q.F32(), k.F32(), v.F32()
	hd, group := s.HeadDim, s.Heads/s.KVHeads
	ldk := s.KVHeads * hd
	pairs := s.Batch * s.KVHeads
	threads := e.threads
	if s.Batch*s.Tq*s.Tk*s.Heads*hd < minParallel {
		threads = 1
	}
	kTiles := (s.Tk + attnTile - 1) / attnTile
	chunks := 1
	if pairs < 2*threads && threads > 1 {
		chunks = min(kTiles, (4*threads+pairs-1)/pairs)
	}
	tasks := pairs * chunks
	// D[i] = dout_i · out_i per query row and head, shared by all tasks.
	dd := make([]float32, s.Batch*s.Tq*s.Heads)
	fast := e.kern.vec
	for r := range dd {
		dd[r] = dot(fast, gv[r*hd:(r+1)*hd], ov[r*hd:(r+1)*hd])
	}
	var dqParts [][]float32
	if chunks > 1 && dqv != nil {
		dqParts = make([][]float32, tasks)
	}
	work := func(t int) {
		pr, c := t/chunks, t%chunks
		b, g := pr/s.KVHeads, pr%s.KVHeads
		ja, jb := c*kTiles/chunks*attnTile, min(s.Tk, (c+1)*kTiles/chunks*attnTile)
		var p, ds [attnTile]float32
		kb, vb := kv[b*s.Tk*ldk+g*hd:], vv[b*s.Tk*ldk+g*hd:]
		var dkb, dvb []float32
		if dkv != nil {
			dkb = dkv[b*s.Tk*ldk+g*hd:]
		}
		if dvv != nil {
			dvb = dvv[b*s.Tk*ldk+g*hd:]
		}
		// dqOut returns where query row i of head h accumulates dq.
		var dqLocal []float32
		if dqParts != nil {
			dqLocal = make([]float32, s.Tq*group*hd)
			dqParts[t] = dqLocal
		}
		for h := g * group; h < (g+1)*group; h++ {
			for i := max(0, ja-s.QOffset); i < s.Tq; i++ {
				qp := s.QOffset + i
				r := (b*s.Tq+i)*s.Heads + h
				qi, gi := qv[r*hd:(r+1)*hd], gv[r*hd:(r+1)*hd]
				var dqi []float32
				switch {
				case dqLocal != nil:
					dqi = dqLocal[(i*group+h-g*group)*hd:][:hd]
				case dqv != nil:
					dqi = dqv[r*hd : (r+1)*hd]
				}
				di, li := dd[r], lv[(b*s.Heads+h)*s.Tq+i]
				for j0 := ja; j0 < jb && j0 <= qp; j0 += attnTile {
					n := min(attnTile, qp+1-j0, jb-j0)
					pt, dt := p[:n], ds[:n]
					dots(fast, pt, qi, kb[j0*ldk:], ldk)
					for j := range pt {
						pt[j] *= s.Scale
					}
					maskTile(pt, s, b, qp, j0)
					vexp(fast, pt, pt, 1, li)
					if dvb != nil {
						rank1(fast, dvb[j0*ldk:], ldk, pt, gi)
					}
					dots(fast, dt, gi, vb[j0*ldk:], ldk)
					for j := range dt {
						dt[j] = pt[j] * (dt[j] - di) * s.Scale
					}
					if dqi != nil {
						accRows(fast, dqi, dt, kb[j0*ldk:], ldk)
					}
					if dkb != nil {
						rank1(fast, dkb[j0*ldk:], ldk, dt, qi)
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
	for t, part := range dqParts {
		if part == nil {
			continue
		}
		b, g := t/chunks/s.KVHeads, t/chunks%s.KVHeads
		for i := 0; i < s.Tq; i++ {
			for hh := 0; hh < group; hh++ {
				r := (b*s.Tq+i)*s.Heads + g*group + hh
				axpy(fast, dqv[r*hd:(r+1)*hd], part[(i*group+hh)*hd:][:hd], 1)
			}
		}
	}
}
