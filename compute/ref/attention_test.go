package ref

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
)

// attnInputs returns random q, k, v for s.
func attnInputs(seed uint64, s compute.AttnShape) (q, k, v []float64) {
	r := newRand(seed)
	q = randn(r, s.Batch*s.Tq*s.Heads*s.HeadDim)
	k = randn(r, s.Batch*s.Tk*s.KVHeads*s.HeadDim)
	v = randn(r, s.Batch*s.Tk*s.KVHeads*s.HeadDim)
	return q, k, v
}

func shape(batch, tq, tk, off, heads, kvHeads, hd int, seg []int32) compute.AttnShape {
	return compute.AttnShape{Batch: batch, Tq: tq, Tk: tk, QOffset: off, Heads: heads, KVHeads: kvHeads,
		HeadDim: hd, Scale: float32(1 / math.Sqrt(float64(hd))), Seg: seg}
}

// naiveAttention is the textbook definition, written independently of
// Attention: a full score matrix with -Inf where masked, a softmax per row,
// and P·V, for every (batch, head).
func naiveAttention(q, k, v []float64, s compute.AttnShape) (out, lse []float64) {
	out = make([]float64, s.Batch*s.Tq*s.Heads*s.HeadDim)
	lse = make([]float64, s.Batch*s.Heads*s.Tq)
	hd, qw, kw := s.HeadDim, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	for b := range s.Batch {
		for h := range s.Heads {
			g := h * s.KVHeads / s.Heads
			for i := range s.Tq {
				sc := make([]float64, s.Tk)
				for j := range s.Tk {
					masked := j > s.QOffset+i
					if s.Seg != nil && s.Seg[b*s.Tk+j] != s.Seg[b*s.Tk+i] {
						masked = true
					}
					if masked {
						sc[j] = math.Inf(-1)
						continue
					}
					for d := range hd {
						sc[j] += q[(b*s.Tq+i)*qw+h*hd+d] * k[(b*s.Tk+j)*kw+g*hd+d]
					}
					sc[j] *= float64(s.Scale)
				}
				var z float64
				for _, x := range sc {
					z += math.Exp(x)
				}
				lse[(b*s.Heads+h)*s.Tq+i] = math.Log(z)
				for j, x := range sc {
					for d := range hd {
						out[(b*s.Tq+i)*qw+h*hd+d] += math.Exp(x) / z * v[(b*s.Tk+j)*kw+g*hd+d]
					}
				}
			}
		}
	}
	return out, lse
}

// attnCases are the shapes of the attention tests: odd head dims, GQA groups
// of 1 and 3, sequence length 1, two sequences, packing and a KV cache.
var attnCases = []struct {
	name string
	s    compute.AttnShape
}{
	{"mha hd6 batch2", shape(2, 5, 5, 0, 3, 3, 6, nil)},
	{"gqa3 hd10", shape(1, 7, 7, 0, 6, 2, 10, nil)},
	{"gqa2 T1 batch2", shape(2, 1, 1, 0, 2, 1, 4, nil)},
	{"segments batch2", shape(2, 6, 6, 0, 3, 1, 6, []int32{0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 4, 4})},
	{"kv cache offset3", shape(2, 2, 5, 3, 3, 1, 10, nil)},
	{"kv cache longer Tk", shape(1, 2, 6, 2, 2, 2, 6, nil)},
	{"mqa hd1", shape(1, 4, 4, 0, 3, 1, 1, nil)},
}

func TestAttentionNaive(t *testing.T) {
	for n, tc := range attnCases {
		q, k, v := attnInputs(uint64(10+n), tc.s)
		out, lse := make([]float64, len(q)), make([]float64, tc.s.Batch*tc.s.Heads*tc.s.Tq)
		Attention(out, q, k, v, lse, tc.s)
		wantOut, wantLse := naiveAttention(q, k, v, tc.s)
		closeTo(t, "Attention("+tc.name+") out", out, wantOut, 1e-13)
		closeTo(t, "Attention("+tc.name+") lse", lse, wantLse, 1e-13)
		// lse is optional.
		out2 := make([]float64, len(q))
		Attention(out2, q, k, v, nil, tc.s)
		closeTo(t, "Attention("+tc.name+", lse nil) out", out2, out, 0)
	}
}

func TestAttentionOneKey(t *testing.T) {
	// With a single key the softmax is 1: out = v whatever q, and
	// lse = Scale·q·k.
	s := shape(1, 1, 1, 0, 2, 1, 3, nil)
	s.Scale = 0.5
	q := []float64{1, 2, 3, -1, 0, 4}
	k := []float64{1, 1, 2}
	v := []float64{7, -8, 9}
	out, lse := make([]float64, 6), make([]float64, 2)
	Attention(out, q, k, v, lse, s)
	closeTo(t, "Attention(one key) out", out, []float64{7, -8, 9, 7, -8, 9}, 0)
	closeTo(t, "Attention(one key) lse", lse, []float64{0.5 * 9, 0.5 * 7}, 1e-15)
}

func TestAttentionCausal(t *testing.T) {
	// Row 0 attends only to key 0, so its output is v row 0; with q = 0 the
	// scores are all equal and row i averages v rows 0..i.
	s := shape(1, 4, 4, 0, 1, 1, 2, nil)
	v := []float64{1, 10, 3, 20, 5, 60, 7, 10}
	out, lse := make([]float64, 8), make([]float64, 4)
	Attention(out, make([]float64, 8), randn(newRand(1), 8), v, lse, s)
	closeTo(t, "Attention(q=0) out", out, []float64{1, 10, 2, 15, 3, 30, 4, 25}, 1e-15)
	closeTo(t, "Attention(q=0) lse", lse, []float64{0, math.Log(2), math.Log(3), math.Log(4)}, 1e-15)

	q, k, v := attnInputs(3, s)
	Attention(out, q, k, v, nil, s)
	closeTo(t, "Attention row 0", out[:2], v[:2], 0)
}

func TestAttentionKVCache(t *testing.T) {
	// Decoding the last tq rows after off cached ones gives the same output
	// (and lse) as those rows of the full pass.
	for _, tc := range []struct{ batch, t, tq, heads, kv, hd int }{
		{2, 6, 2, 3, 1, 6}, {1, 5, 1, 4, 2, 10}, {1, 3, 3, 2, 2, 4},
	} {
		full := shape(tc.batch, tc.t, tc.t, 0, tc.heads, tc.kv, tc.hd, nil)
		q, k, v := attnInputs(4, full)
		out, lse := make([]float64, len(q)), make([]float64, tc.batch*tc.heads*tc.t)
		Attention(out, q, k, v, lse, full)

		off := tc.t - tc.tq
		dec := shape(tc.batch, tc.tq, tc.t, off, tc.heads, tc.kv, tc.hd, nil)
		w := tc.heads * tc.hd
		var qd, wantOut, wantLse []float64
		for b := range tc.batch {
			qd = append(qd, q[(b*tc.t+off)*w:(b+1)*tc.t*w]...)
			wantOut = append(wantOut, out[(b*tc.t+off)*w:(b+1)*tc.t*w]...)
			for h := range tc.heads {
				o := (b*tc.heads + h) * tc.t
				wantLse = append(wantLse, lse[o+off:o+tc.t]...)
			}
		}
		got, gotLse := make([]float64, len(qd)), make([]float64, len(wantLse))
		Attention(got, qd, k, v, gotLse, dec)
		name := fmt.Sprintf("Attention(QOffset=%d of T=%d)", off, tc.t)
		closeTo(t, name+" out", got, wantOut, 1e-15)
		closeTo(t, name+" lse", gotLse, wantLse, 1e-15)
	}
}

func TestAttentionSegments(t *testing.T) {
	// Three examples packed in one row of 7 equal three separate runs.
	lens := []int{3, 1, 3}
	heads, kv, hd := 3, 1, 6
	packed := shape(1, 7, 7, 0, heads, kv, hd, []int32{5, 5, 5, 9, 2, 2, 2})
	q, k, v := attnInputs(5, packed)
	out, lse := make([]float64, len(q)), make([]float64, heads*7)
	Attention(out, q, k, v, lse, packed)
	qw, kw, start := heads*hd, kv*hd, 0
	for n, l := range lens {
		s := shape(1, l, l, 0, heads, kv, hd, nil)
		o, ls := make([]float64, l*qw), make([]float64, heads*l)
		Attention(o, q[start*qw:(start+l)*qw], k[start*kw:(start+l)*kw], v[start*kw:(start+l)*kw], ls, s)
		closeTo(t, fmt.Sprintf("Attention(packed example %d) out", n), out[start*qw:(start+l)*qw], o, 1e-15)
		for h := range heads {
			closeTo(t, fmt.Sprintf("Attention(packed example %d head %d) lse", n, h), lse[h*7+start:h*7+start+l], ls[h*l:(h+1)*l], 1e-15)
		}
		start += l
	}
}

// expandKV repeats each kv head group times, the repeat_kv of transformers.
func expandKV(x []float64, rows, kvHeads, hd, group int) []float64 {
	out := make([]float64, 0, len(x)*group)
	for r := range rows {
		for g := range kvHeads {
			for range group {
				out = append(out, x[(r*kvHeads+g)*hd:(r*kvHeads+g+1)*hd]...)
			}
		}
	}
	return out
}

func TestAttentionGQA(t *testing.T) {
	// Grouped-query attention equals multi-head attention on repeated k/v,
	// and its dk/dv are the sums of the repeated heads' gradients.
	gqa := shape(2, 4, 4, 0, 6, 2, 5, nil)
	mha := gqa
	mha.KVHeads = 6
	q, k, v := attnInputs(6, gqa)
	rows := gqa.Batch * gqa.Tk
	ke, ve := expandKV(k, rows, 2, 5, 3), expandKV(v, rows, 2, 5, 3)
	out, lse := make([]float64, len(q)), make([]float64, 2*6*4)
	Attention(out, q, k, v, lse, gqa)
	outE, lseE := make([]float64, len(q)), make([]float64, 2*6*4)
	Attention(outE, q, ke, ve, lseE, mha)
	closeTo(t, "Attention(GQA 6:2) vs repeated kv", out, outE, 0)
	closeTo(t, "Attention(GQA 6:2) lse vs repeated kv", lse, lseE, 0)

	dout := randn(newRand(7), len(q))
	dq, dk, dv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, gqa)
	dqE, dkE, dvE := make([]float64, len(q)), make([]float64, len(ke)), make([]float64, len(ve))
	AttentionBackward(dqE, dkE, dvE, dout, q, ke, ve, outE, lseE, mha)
	closeTo(t, "AttentionBackward(GQA) dq", dq, dqE, 1e-14)
	sum := func(x []float64) []float64 {
		s := make([]float64, len(k))
		for r := range rows {
			for h := range 6 {
				for d := range 5 {
					s[(r*2+h/3)*5+d] += x[(r*6+h)*5+d]
				}
			}
		}
		return s
	}
	closeTo(t, "AttentionBackward(GQA) dk", dk, sum(dkE), 1e-14)
	closeTo(t, "AttentionBackward(GQA) dv", dv, sum(dvE), 1e-14)
}

func TestAttentionGrad(t *testing.T) {
	for n, tc := range attnCases {
		s := tc.s
		q, k, v := attnInputs(uint64(20+n), s)
		proj := randn(newRand(uint64(40+n)), len(q))
		out, lse := make([]float64, len(q)), make([]float64, s.Batch*s.Heads*s.Tq)
		loss := func() float64 {
			Attention(out, q, k, v, lse, s)
			return project(proj, out)
		}
		loss()
		dq, dk, dv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
		backward := func() { AttentionBackward(dq, dk, dv, proj, q, k, v, out, lse, s) }
		backward()
		// With one key per query the output is v whatever q and k are.
		single := s.Tk == 1
		checkGrad(t, "Attention("+tc.name+") dq", q, dq, loss, single)
		checkGrad(t, "Attention("+tc.name+") dk", k, dk, loss, single)
		checkGrad(t, "Attention("+tc.name+") dv", v, dv, loss, false)
		loss()
		if !single {
			checkAccum(t, "AttentionBackward("+tc.name+")", backward, dq, dk, dv)
		}

		// Each gradient may be skipped without changing the others.
		want := [][]float64{oneCall(dq, backward), oneCall(dk, backward), oneCall(dv, backward)}
		for skip := range 3 {
			g := [][]float64{make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))}
			g[skip] = nil
			AttentionBackward(g[0], g[1], g[2], proj, q, k, v, out, lse, s)
			for i := range 3 {
				if i != skip {
					closeTo(t, fmt.Sprintf("AttentionBackward(%s, grad %d nil) grad %d", tc.name, skip, i), g[i], want[i], 0)
				}
			}
		}
	}
}

func TestAttentionPanics(t *testing.T) {
	q, k, v := make([]float64, 12), make([]float64, 12), make([]float64, 12)
	out, lse := make([]float64, 12), make([]float64, 4)
	tests := []struct {
		name, want string
		s          compute.AttnShape
	}{
		{"heads not a multiple of kv heads", "3 heads are not a multiple of 2 kv heads", shape(1, 2, 2, 0, 3, 2, 2, nil)},
		{"queries past the keys", "need keys beyond Tk = 2", shape(1, 2, 2, 1, 2, 2, 3, nil)},
		{"segments with an offset", "segments need Tq == Tk and QOffset 0", shape(1, 1, 2, 1, 2, 2, 3, []int32{0, 0})},
		{"too few segment ids", "1 segment ids for 2 key rows", shape(1, 2, 2, 0, 2, 2, 3, []int32{0})},
		{"short q", "q has 12 elements, need 16", shape(1, 2, 2, 0, 2, 2, 4, nil)},
	}
	for _, tt := range tests {
		mustPanic(t, "Attention("+tt.name+")", tt.want, func() { Attention(out, q, k, v, lse, tt.s) })
	}
	mustPanic(t, "AttentionBackward(short lse)", "lse has 4 elements, need 6", func() {
		s := shape(1, 3, 3, 0, 2, 2, 2, nil)
		AttentionBackward(q, k, v, q, q, k, v, out, lse, s)
	})
}
