package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/tensor"
)

func TestAttention(t *testing.T) {
	r := newRand(20)
	var rf ref.Engine
	cases := []compute.AttnShape{
		{Batch: 1, Tq: 1, Tk: 1, Heads: 1, KVHeads: 1, HeadDim: 8},
		{Batch: 2, Tq: 7, Tk: 7, Heads: 4, KVHeads: 2, HeadDim: 6},
		{Batch: 1, Tq: 150, Tk: 150, Heads: 3, KVHeads: 1, HeadDim: 64},
		{Batch: 3, Tq: 65, Tk: 65, Heads: 6, KVHeads: 6, HeadDim: 16},
		{Batch: 2, Tq: 5, Tk: 133, QOffset: 128, Heads: 4, KVHeads: 2, HeadDim: 32},
		{Batch: 2, Tq: 130, Tk: 130, Heads: 2, KVHeads: 1, HeadDim: 48, Seg: []int32{}},
		{Batch: 1, Tq: 20, Tk: 300, QOffset: 280, Heads: 2, KVHeads: 1, HeadDim: 32},
		{Batch: 1, Tq: 100, Tk: 100, Heads: 4, KVHeads: 1, HeadDim: 20},
		// decoding: a few queries after cached keys, scored in place
		{Batch: 2, Tq: 1, Tk: 77, QOffset: 76, Heads: 6, KVHeads: 2, HeadDim: 64},
		{Batch: 1, Tq: 1, Tk: 301, QOffset: 250, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 3, Tq: 1, Tk: 33, QOffset: 32, Heads: 4, KVHeads: 1, HeadDim: 20},
		{Batch: 1, Tq: 1, Tk: 1000, QOffset: 999, Heads: 2, KVHeads: 2, HeadDim: 7},
		{Batch: 1, Tq: 3, Tk: 40, QOffset: 37, Heads: 4, KVHeads: 4, HeadDim: 20},
		{Batch: 2, Tq: 4, Tk: 4, Heads: 2, KVHeads: 1, HeadDim: 16},
	}
	for _, e := range fastEngines(t) {
		for _, s := range cases {
			s.Scale = float32(1 / math.Sqrt(float64(s.HeadDim)))
			if s.Seg != nil {
				s.Seg = make([]int32, s.Batch*s.Tk)
				for i := range s.Seg {
					s.Seg[i] = int32(i / 37) // segments cross tile boundaries
				}
			}
			name := fmt.Sprintf("%s/B=%d Tq=%d Tk=%d off=%d H=%d KV=%d hd=%d seg=%v", e.Name(), s.Batch, s.Tq, s.Tk, s.QOffset, s.Heads, s.KVHeads, s.HeadDim, s.Seg != nil)
			q := randT(r, s.Batch*s.Tq, s.Heads*s.HeadDim)
			k := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
			v := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
			for i := range q.F32() {
				q.F32()[i] *= 3 // peaky softmax: exercises the running max
			}
			og, ow := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, q.Shape...)
			lg, lw := tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq), tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq)
			e.Attention(og, q, k, v, lg, s)
			rf.Attention(ow, q, k, v, lw, s)
			closeTo(t, name+" out", og.F32(), ow.F32(), 2e-5)
			closeTo(t, name+" lse", lg.F32(), lw.F32(), 2e-5)

			dout := randT(r, q.Shape...)
			dqg, dkg, dvg := randT(r, q.Shape...), randT(r, k.Shape...), randT(r, v.Shape...)
			dqw, dkw, dvw := clone(dqg), clone(dkg), clone(dvg)
			e.AttentionBackward(dqg, dkg, dvg, dout, q, k, v, ow, lw, s)
			rf.AttentionBackward(dqw, dkw, dvw, dout, q, k, v, ow, lw, s)
			closeTo(t, name+" dq", dqg.F32(), dqw.F32(), 5e-5)
			closeTo(t, name+" dk", dkg.F32(), dkw.F32(), 5e-5)
			closeTo(t, name+" dv", dvg.F32(), dvw.F32(), 5e-5)
			// only some gradients
			e.AttentionBackward(nil, dkg, nil, dout, q, k, v, ow, lw, s)
			rf.AttentionBackward(nil, dkw, nil, dout, q, k, v, ow, lw, s)
			closeTo(t, name+" dk only", dkg.F32(), dkw.F32(), 5e-5)
		}
	}
}

// TestAttentionBF16Cache checks attention over bf16 keys and values (a bf16
// cache) against the reference engine, for one query (decoding, in place)
// and a few and many (a prefill over the cache). Where the engine takes
// them in bf16 products (attendBF16: the tiled path on a CPU with the bf16
// dot product; onequeryBF16: one to four queries, heads a multiple of 32
// wide, on a CPU with its kernels), the reference is given the queries rounded to bf16, as the
// scores' products take them, and the output may differ by what rounding
// the probabilities to bf16 moves: each by at most 2^-8 of itself, so an
// output by at most 2^-8 of the largest |value| it sums (the weights sum to
// one), plus float32 rounding. Elsewhere the keys and values are widened
// exactly and the result is the reference's within 2e-5.
func TestAttentionBF16Cache(t *testing.T) {
	r := newRand(21)
	var rf ref.Engine
	cases := []compute.AttnShape{
		{Batch: 1, Tq: 1, Tk: 1, Heads: 1, KVHeads: 1, HeadDim: 16},
		{Batch: 2, Tq: 1, Tk: 77, QOffset: 76, Heads: 6, KVHeads: 2, HeadDim: 64},
		{Batch: 1, Tq: 1, Tk: 301, QOffset: 250, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 1, Tq: 1, Tk: 40, QOffset: 39, Heads: 2, KVHeads: 1, HeadDim: 20},
		{Batch: 1, Tq: 3, Tk: 40, QOffset: 37, Heads: 4, KVHeads: 4, HeadDim: 32},
		{Batch: 1, Tq: 20, Tk: 300, QOffset: 280, Heads: 2, KVHeads: 1, HeadDim: 32},
		{Batch: 2, Tq: 4, Tk: 90, QOffset: 86, Heads: 14, KVHeads: 2, HeadDim: 64},
		{Batch: 1, Tq: 2, Tk: 1030, QOffset: 1028, Heads: 8, KVHeads: 8, HeadDim: 128},
		{Batch: 3, Tq: 1, Tk: 4001, QOffset: 3900, Heads: 4, KVHeads: 1, HeadDim: 96},
		// prefills: whole, after a cached prefix, odd lengths, partial
		// query blocks and key tiles, heads not a multiple of 16
		{Batch: 1, Tq: 65, Tk: 65, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 2, Tq: 7, Tk: 57, QOffset: 50, Heads: 4, KVHeads: 2, HeadDim: 16},
		{Batch: 1, Tq: 200, Tk: 263, QOffset: 63, Heads: 3, KVHeads: 1, HeadDim: 128},
		{Batch: 1, Tq: 97, Tk: 97, Heads: 2, KVHeads: 2, HeadDim: 48},
		{Batch: 1, Tq: 30, Tk: 30, Heads: 2, KVHeads: 1, HeadDim: 20},
		{Batch: 1, Tq: 8, Tk: 8, Heads: 4, KVHeads: 2, HeadDim: 16},
		{Batch: 2, Tq: 6, Tk: 6, Heads: 2, KVHeads: 1, HeadDim: 16, Seg: []int32{0, 0, 1, 1, 1, 2, 5, 5, 5, 5, 6, 6}},
	}
	for _, e := range fastEngines(t) {
		for _, s := range cases {
			s.Scale = float32(1 / math.Sqrt(float64(s.HeadDim)))
			bf := e.attendBF16(s, true) && s.Tq > 1 || e.onequeryBF16(s) && s.Tq <= gemvRows && s.Seg == nil
			name := fmt.Sprintf("%s/B=%d Tq=%d Tk=%d off=%d H=%d KV=%d hd=%d bf16=%v", e.Name(), s.Batch, s.Tq, s.Tk, s.QOffset, s.Heads, s.KVHeads, s.HeadDim, bf)
			q := randT(r, s.Batch*s.Tq, s.Heads*s.HeadDim)
			for i := range q.F32() {
				q.F32()[i] *= 3
			}
			k := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim).To(tensor.BF16)
			v := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim).To(tensor.BF16)
			og, ow := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, q.Shape...)
			lg, lw := tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq), tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq)
			e.Attention(og, q, k, v, lg, s)
			if !bf {
				rf.Attention(ow, q, k.ToF32(), v.ToF32(), lw, s)
				closeTo(t, name+" out", og.F32(), ow.F32(), 2e-5)
				closeTo(t, name+" lse", lg.F32(), lw.F32(), 2e-5)
				rf.Attention(og, q, k, v, nil, s) // the reference takes bf16 too
				closeTo(t, name+" ref bf16", og.F32(), ow.F32(), 1e-6)
				continue
			}
			rf.Attention(ow, q.To(tensor.BF16).ToF32(), k.ToF32(), v.ToF32(), lw, s)
			closeTo(t, name+" lse", lg.F32(), lw.F32(), 2e-5)
			vmax := 0.0
			for _, x := range v.ToF32().F32() {
				vmax = max(vmax, math.Abs(float64(x)))
			}
			bound := vmax/256 + 2e-5*vmax
			worst := 0.0
			for i, w := range ow.F32() {
				d := math.Abs(float64(og.F32()[i]) - float64(w))
				worst = max(worst, d)
				if !(d <= bound) {
					t.Fatalf("%s: out[%d] = %g, want %g (|diff| %.3g > %.3g)", name, i, og.F32()[i], w, d, bound)
				}
			}
			t.Logf("%s: largest |diff| %.3g (bound %.3g)", name, worst, bound)
		}
	}
}

// TestAttentionOneGrouped: with a bf16 or float32 cache, one query a
// sequence on one thread, the attention (the heads that share a key head
// taken together, the keys in blocks: doGroups, or in bf16 products
// doPairs) gives bit for
// bit what a head-by-head loop of the one-head row primitives gives
// (dotsBF16 and accRowsBF16, scoresBF16 and accPairsBF16 over the query
// and probabilities rounded, or dots and accRows), for groups of one to seven heads, head
// dimensions that take the assembly and that do not, key counts around the
// blocks' and the sixteen- and four-key steps' edges, and caches longer
// than the keys visible.
func TestAttentionOneGrouped(t *testing.T) {
	r := newRand(23)
	// the widened path on this CPU too: an engine without the bf16 kernels
	wide := New(1)
	defer wide.Close()
	wide.kern.bf16 = nil
	e := New(1)
	defer e.Close()
	for _, e := range []*Engine{e, wide} {
		testAttentionOneGrouped(t, r, e, false)
	}
	testAttentionOneGrouped(t, r, e, true)
}

// testAttentionOneGrouped is TestAttentionOneGrouped on e, over a bf16
// cache or a float32 one (f32).
func testAttentionOneGrouped(t *testing.T, r *rand.Rand, e *Engine, f32 bool) {
	fast := e.kern.vec
	for _, g := range [][3]int{{9, 3, 64}, {8, 2, 64}, {4, 4, 64}, {14, 2, 64}, {6, 2, 80}, {8, 8, 128}, {32, 8, 64}, {4, 2, 8}} {
		for _, n := range []int{1, 5, 33, 64, 65, 131, 200} {
			for _, batch := range []int{1, 2} {
				s := compute.AttnShape{Batch: batch, Tq: 1, Tk: n + 3*(batch-1), QOffset: n - 1,
					Heads: g[0], KVHeads: g[1], HeadDim: g[2], Scale: 0.3}
				hd, ldk, group := s.HeadDim, s.KVHeads*s.HeadDim, s.Heads/s.KVHeads
				q := randT(r, batch, s.Heads*hd)
				k := randT(r, batch*s.Tk, ldk)
				v := randT(r, batch*s.Tk, ldk)
				if !f32 {
					k, v = k.To(tensor.BF16), v.To(tensor.BF16)
				}
				got := tensor.New(tensor.F32, batch, s.Heads*hd)
				e.Attention(got, q, k, v, nil, s)
				var kh, vh []uint16
				if !f32 {
					kh, vh = k.BF16(), v.BF16()
				}
				pairs := !f32 && e.onequeryBF16(s)
				p, o := make([]float32, n), make([]float32, hd)
				for b := 0; b < batch; b++ {
					for h := 0; h < s.Heads; h++ {
						r0 := b*s.Tk*ldk + h/group*hd
						qh := q.F32()[(b*s.Heads+h)*hd:][:hd]
						switch {
						case f32:
							dots(fast, p, qh, k.F32()[r0:], ldk)
						case pairs:
							scoresBF16(e.kern.bf16, p, roundAll(qh), kh[r0:], ldk)
						default:
							dotsBF16(fast, p, qh, kh[r0:], ldk)
						}
						m := vmax(fast, p) * s.Scale
						l := float64(float32(vexp(fast, p, p, s.Scale, m)))
						clear(o)
						switch {
						case f32:
							accRows(fast, o, p, v.F32()[r0:], ldk)
						case pairs:
							accPairsBF16(e.kern.bf16, o, hd, hd, 1, roundAll(p), n, n, vh[r0:], ldk)
						default:
							accRowsBF16(fast, o, p, vh[r0:], ldk)
						}
						inv := float32(1 / l)
						for d, x := range o {
							if w, gd := x*inv, got.F32()[(b*s.Heads+h)*hd+d]; gd != w {
								t.Fatalf("f32=%v pairs=%v H=%d KV=%d hd=%d n=%d batch %d: sequence %d head %d [%d] = %g, head by head %g",
									f32, pairs, s.Heads, s.KVHeads, hd, n, batch, b, h, d, gd, w)
							}
						}
					}
				}
			}
		}
	}
}

// TestAttentionAhead: reading the next layer's cache ahead changes
// nothing: the same output, bit for bit, as Attention for one query a
// sequence (serial and split across threads, float32 and bf16 caches,
// next rows of either dtype, longer or shorter than the keys, or none),
// and for more queries, where nothing is read ahead.
func TestAttentionAhead(t *testing.T) {
	r := newRand(23)
	cases := []compute.AttnShape{
		{Batch: 1, Tq: 1, Tk: 1, Heads: 1, KVHeads: 1, HeadDim: 16},
		{Batch: 1, Tq: 1, Tk: 7, QOffset: 6, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 1, Tq: 1, Tk: 63, QOffset: 62, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 1, Tq: 1, Tk: 577, QOffset: 576, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 2, Tq: 1, Tk: 65, QOffset: 64, Heads: 6, KVHeads: 2, HeadDim: 64},
		{Batch: 1, Tq: 3, Tk: 40, QOffset: 37, Heads: 4, KVHeads: 4, HeadDim: 32},
	}
	var _ compute.AttentionAheader = New(1)
	for _, e := range fastEngines(t) {
		for _, s := range cases {
			s.Scale = float32(1 / math.Sqrt(float64(s.HeadDim)))
			for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
				q := randT(r, s.Batch*s.Tq, s.Heads*s.HeadDim)
				k := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim).To(dt)
				v := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim).To(dt)
				want := tensor.New(tensor.F32, q.Shape...)
				e.Attention(want, q, k, v, nil, s)
				for _, next := range []int{0, 1, s.Tk - 1, 2*s.Tk + 5} {
					name := fmt.Sprintf("%s/%v B=%d Tq=%d Tk=%d H=%d next=%d", e.Name(), dt, s.Batch, s.Tq, s.Tk, s.Heads, next)
					var nk, nv *tensor.Tensor
					if next > 0 {
						nk = randT(r, next, s.KVHeads*s.HeadDim).To(tensor.BF16)
						nv = randT(r, next, s.KVHeads*s.HeadDim)
					}
					got := tensor.New(tensor.F32, q.Shape...)
					e.AttentionAhead(got, q, k, v, s, nk, nv)
					for i, w := range want.F32() {
						if g := got.F32()[i]; g != w {
							t.Fatalf("%s: out[%d] %v, Attention %v", name, i, g, w)
						}
					}
				}
			}
		}
	}
}

// TestAttentionBF16Products checks the attention forward and backward in
// bf16 products (AttnShape.BF16, the bf16 mode's training) against sums in
// float64 over the same operands rounded to bf16 (queries, keys, values,
// the output's gradient), so that what is left is what rounding the
// probabilities and dS to bf16 moves, each by at most 2^-8 of itself, and
// float32 sums: per element, 2^-8 of the sum of the magnitudes of its terms
// that carry a rounded P or dS, plus 1e-5 of the magnitudes of all its
// terms (those of dS's own parts included). The backward is given the
// float64 output and log-sum-exps, so that D and P are the reference's.
// Shapes where the engine takes no bf16 products are held to the float32
// tolerance of TestAttention.
func TestAttentionBF16Products(t *testing.T) {
	r := newRand(26)
	var rf ref.Engine
	cases := []compute.AttnShape{
		{Batch: 1, Tq: 65, Tk: 65, Heads: 9, KVHeads: 3, HeadDim: 64},
		{Batch: 2, Tq: 100, Tk: 100, Heads: 4, KVHeads: 2, HeadDim: 16},
		{Batch: 1, Tq: 200, Tk: 200, Heads: 2, KVHeads: 1, HeadDim: 32}, // keys split across tasks
		{Batch: 1, Tq: 131, Tk: 131, Heads: 2, KVHeads: 1, HeadDim: 128},
		{Batch: 2, Tq: 57, Tk: 57, Heads: 3, KVHeads: 3, HeadDim: 48},
		{Batch: 1, Tq: 7, Tk: 7, Heads: 2, KVHeads: 1, HeadDim: 16},
		{Batch: 1, Tq: 3, Tk: 3, Heads: 2, KVHeads: 1, HeadDim: 16},   // few queries: float32
		{Batch: 1, Tq: 50, Tk: 50, Heads: 2, KVHeads: 1, HeadDim: 20}, // hd: float32
	}
	segs := func(s compute.AttnShape) []int32 {
		seg := make([]int32, s.Batch*s.Tk)
		for i := range seg {
			seg[i] = int32(i / 23)
		}
		return seg
	}
	bf16 := func(x *tensor.Tensor) *tensor.Tensor { return x.To(tensor.BF16).ToF32() }
	for _, e := range fastEngines(t) {
		for ci, s := range cases {
			for _, withSeg := range []bool{false, true} {
				s.Scale = float32(1 / math.Sqrt(float64(s.HeadDim)))
				s.BF16, s.Seg = true, nil
				if withSeg {
					s.Seg = segs(s)
				}
				bf := e.attendBF16(s, false)
				name := fmt.Sprintf("%s/case %d seg=%v bf16=%v", e.Name(), ci, withSeg, bf)
				q := randT(r, s.Batch*s.Tq, s.Heads*s.HeadDim)
				for i := range q.F32() {
					q.F32()[i] *= 2
				}
				k := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
				v := randT(r, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
				dout := randT(r, q.Shape...)
				og, lg := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq)
				e.Attention(og, q, k, v, lg, s)
				dq, dk, dv := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, k.Shape...), tensor.New(tensor.F32, v.Shape...)
				if !bf {
					ow, lw := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq)
					rf.Attention(ow, q, k, v, lw, s)
					closeTo(t, name+" out", og.F32(), ow.F32(), 2e-5)
					closeTo(t, name+" lse", lg.F32(), lw.F32(), 2e-5)
					dqw, dkw, dvw := tensor.New(tensor.F32, q.Shape...), tensor.New(tensor.F32, k.Shape...), tensor.New(tensor.F32, v.Shape...)
					e.AttentionBackward(dq, dk, dv, dout, q, k, v, ow, lw, s)
					rf.AttentionBackward(dqw, dkw, dvw, dout, q, k, v, ow, lw, s)
					closeTo(t, name+" dq", dq.F32(), dqw.F32(), 5e-5)
					closeTo(t, name+" dk", dk.F32(), dkw.F32(), 5e-5)
					closeTo(t, name+" dv", dv.F32(), dvw.F32(), 5e-5)
					continue
				}
				w := attnRef64(s, bf16(q).F32(), bf16(k).F32(), bf16(v).F32(), bf16(dout).F32())
				check := func(what string, got []float32, want, mag, magAll []float64) {
					t.Helper()
					worst, wi := 0.0, 0
					for i := range want {
						d := math.Abs(float64(got[i]) - want[i])
						bound := mag[i]/256 + 1e-5*magAll[i] + 1e-6
						if d/bound > worst {
							worst, wi = d/bound, i
						}
						if !(d <= bound) {
							t.Fatalf("%s %s[%d] = %g, want %g (|diff| %.3g > %.3g)", name, what, i, got[i], want[i], d, bound)
						}
					}
					t.Logf("%s %s: largest |diff| %.2f of its bound (at %d: diff %.3g mag %.3g all %.3g value %.3g)", name, what, worst, wi, math.Abs(float64(got[wi])-want[wi]), mag[wi], magAll[wi], want[wi])
				}
				check("out", og.F32(), w.out, w.outMag, w.outMag)
				for i, x := range w.lse {
					if d := math.Abs(float64(lg.F32()[i]) - x); d > 2e-5*(1+math.Abs(x)) {
						t.Fatalf("%s lse[%d] = %g, want %g", name, i, lg.F32()[i], x)
					}
				}
				wo, wl := f32s(w.out).Reshape(q.Shape...), f32s(w.lse).Reshape(lg.Shape...)
				e.AttentionBackward(dq, dk, dv, dout, q, k, v, wo, wl, s)
				check("dq", dq.F32(), w.dq, w.dqMag, w.dqAll)
				check("dk", dk.F32(), w.dk, w.dkMag, w.dkAll)
				check("dv", dv.F32(), w.dv, w.dvMag, w.dvMag)
				// only some gradients: the same values
				dk2 := tensor.New(tensor.F32, k.Shape...)
				e.AttentionBackward(nil, dk2, nil, dout, q, k, v, wo, wl, s)
				closeTo(t, name+" dk alone", dk2.F32(), dk.F32(), 1e-6)
			}
		}
	}
}

func f32s(x []float64) *tensor.Tensor {
	t := tensor.New(tensor.F32, len(x))
	for i, v := range x {
		t.F32()[i] = float32(v)
	}
	return t
}

// attn64 is attention's forward and backward in float64 with, per
// element, the sums of the magnitudes of the terms that carry a rounded
// probability or dS (mag) and of all terms, dS's parts included (all).
type attn64 struct {
	out, lse, dq, dk, dv        []float64
	outMag, dqMag, dkMag, dvMag []float64
	dqAll, dkAll                []float64
}

// attnRef64 computes attn64 for shape s from float32 operands.
func attnRef64(s compute.AttnShape, q, k, v, dout []float32) attn64 {
	hd, ldq, ldk, grp := s.HeadDim, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim, s.Heads/s.KVHeads
	nq, nk := s.Batch*s.Tq*ldq, s.Batch*s.Tk*ldk
	w := attn64{out: make([]float64, nq), lse: make([]float64, s.Batch*s.Heads*s.Tq),
		dq: make([]float64, nq), dk: make([]float64, nk), dv: make([]float64, nk),
		outMag: make([]float64, nq), dqMag: make([]float64, nq), dkMag: make([]float64, nk), dvMag: make([]float64, nk),
		dqAll: make([]float64, nq), dkAll: make([]float64, nk)}
	sees := func(b, i, j int) bool {
		qp := s.QOffset + i
		return j <= qp && (s.Seg == nil || s.Seg[b*s.Tk+j] == s.Seg[b*s.Tk+qp])
	}
	p := make([]float64, s.Tk)
	for b := 0; b < s.Batch; b++ {
		for h := 0; h < s.Heads; h++ {
			g := h / grp
			for i := 0; i < s.Tq; i++ {
				qi := q[(b*s.Tq+i)*ldq+h*hd:][:hd]
				gi := dout[(b*s.Tq+i)*ldq+h*hd:][:hd]
				oi, om := w.out[(b*s.Tq+i)*ldq+h*hd:][:hd], w.outMag[(b*s.Tq+i)*ldq+h*hd:][:hd]
				mx := math.Inf(-1)
				for j := 0; j < s.Tk; j++ {
					p[j] = math.Inf(-1)
					if !sees(b, i, j) {
						continue
					}
					kj := k[(b*s.Tk+j)*ldk+g*hd:][:hd]
					sc := 0.0
					for d := range hd {
						sc += float64(qi[d]) * float64(kj[d])
					}
					p[j] = sc * float64(s.Scale)
					mx = max(mx, p[j])
				}
				sum := 0.0
				for j := range p {
					p[j] = math.Exp(p[j] - mx)
					sum += p[j]
				}
				w.lse[(b*s.Heads+h)*s.Tq+i] = mx + math.Log(sum)
				for j := range p {
					p[j] /= sum
					vj := v[(b*s.Tk+j)*ldk+g*hd:][:hd]
					for d := range hd {
						oi[d] += p[j] * float64(vj[d])
						om[d] += p[j] * math.Abs(float64(vj[d]))
					}
				}
				di, dmag := 0.0, 0.0
				for d := range hd {
					di += float64(gi[d]) * oi[d]
					dmag += math.Abs(float64(gi[d]) * oi[d])
				}
				dqi, dqm, dqa := w.dq[(b*s.Tq+i)*ldq+h*hd:][:hd], w.dqMag[(b*s.Tq+i)*ldq+h*hd:][:hd], w.dqAll[(b*s.Tq+i)*ldq+h*hd:][:hd]
				for j := range p {
					if p[j] == 0 {
						continue
					}
					vj := v[(b*s.Tk+j)*ldk+g*hd:][:hd]
					kj := k[(b*s.Tk+j)*ldk+g*hd:][:hd]
					dpj, dpm := 0.0, 0.0
					for d := range hd {
						dpj += float64(gi[d]) * float64(vj[d])
						dpm += math.Abs(float64(gi[d]) * float64(vj[d]))
					}
					ds := p[j] * (dpj - di) * float64(s.Scale)
					dsAll := p[j] * (dpm + dmag) * float64(s.Scale)
					dkj, dkm, dka := w.dk[(b*s.Tk+j)*ldk+g*hd:][:hd], w.dkMag[(b*s.Tk+j)*ldk+g*hd:][:hd], w.dkAll[(b*s.Tk+j)*ldk+g*hd:][:hd]
					dvj, dvm := w.dv[(b*s.Tk+j)*ldk+g*hd:][:hd], w.dvMag[(b*s.Tk+j)*ldk+g*hd:][:hd]
					for d := range hd {
						dqi[d] += ds * float64(kj[d])
						dqm[d] += math.Abs(ds * float64(kj[d]))
						dqa[d] += dsAll * math.Abs(float64(kj[d]))
						dkj[d] += ds * float64(qi[d])
						dkm[d] += math.Abs(ds * float64(qi[d]))
						dka[d] += dsAll * math.Abs(float64(qi[d]))
						dvj[d] += p[j] * float64(gi[d])
						dvm[d] += p[j] * math.Abs(float64(gi[d]))
					}
				}
			}
		}
	}
	return w
}
