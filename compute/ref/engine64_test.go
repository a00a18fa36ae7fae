package ref

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
	"hone/tensor"
)

// f64Tensor returns x as an F64 tensor of the given shape.
func f64Tensor(x []float64, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.F64, shape...)
	copy(t.F64(), x)
	return t
}

// values returns the elements of an F32 or F64 tensor as float64.
func values(t *tensor.Tensor) []float64 {
	if t.DType == tensor.F64 {
		return append([]float64(nil), t.F64()...)
	}
	return to64(t.F32())
}

func TestEngine64Name(t *testing.T) {
	var e compute.Engine = Engine64{}
	if got := e.Name(); got != "ref64" {
		t.Errorf("Engine64.Name() = %q, want %q", got, "ref64")
	}
}

// engineOp runs ops on engine e, every tensor made by mk (F32 for Engine,
// F64 for Engine64) from float32-representable values drawn from r, and
// returns what the ops wrote, by name. Gradients start from random values,
// so that both engines must accumulate alike.
type engineOp func(e compute.Engine, mk func(x []float64, shape ...int) *tensor.Tensor) map[string][]float64

// engineOps exercises every op of compute.Engine, optional operands left nil
// included.
var engineOps = []struct {
	name string
	run  engineOp
}{
	{"MatMul", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, res := newRand(1), map[string][]float64{}
		for _, sz := range [][3]int{{5, 7, 9}, {70, 3, 6}} {
			m, n, k := sz[0], sz[1], sz[2]
			for i := range 8 {
				ta, tb, acc := i&1 != 0, i&2 != 0, i&4 != 0
				aShape, bShape := []int{m, k}, []int{k, n}
				if ta {
					aShape = []int{k, m}
				}
				if tb {
					bShape = []int{n, k}
				}
				c := mk(r32(randn(r, m*n)), m, n)
				e.MatMul(c, mk(r32(randn(r, m*k)), aShape...), mk(r32(randn(r, k*n)), bShape...), ta, tb, acc)
				res[fmt.Sprintf("c(m=%d n=%d k=%d ta=%v tb=%v acc=%v)", m, n, k, ta, tb, acc)] = values(c)
			}
		}
		return res
	}},
	{"AddBias", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r := newRand(2)
		y, db := mk(r32(randn(r, 4*7)), 4, 7), mk(r32(randn(r, 7)), 7)
		e.AddBias(y, mk(r32(randn(r, 7)), 7))
		e.AddBiasBackward(db, y)
		e.AddBiasBackward(nil, y)
		return map[string][]float64{"y": values(y), "dbias": values(db)}
	}},
	{"Elementwise", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r := newRand(3)
		a, b, dst := mk(r32(randn(r, 10)), 2, 5), mk(r32(randn(r, 10)), 2, 5), mk(make([]float64, 10), 2, 5)
		e.Add(dst, a, b)
		res := map[string][]float64{"Add": values(dst)}
		e.AddScaled(dst, b, -0.25)
		res["AddScaled"] = values(dst)
		e.Scale(dst, 3)
		res["Scale"] = values(dst)
		e.Add(a, a, b) // aliased
		res["Add aliased"] = values(a)
		return res
	}},
	{"Embed", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, vocab, d, ids := newRand(4), 9, 6, []int32{8, 0, 8, 4}
		out, dt := mk(make([]float64, len(ids)*d), len(ids), d), mk(r32(randn(r, vocab*d)), vocab, d)
		e.Embed(out, mk(r32(randn(r, vocab*d)), vocab, d), ids)
		e.EmbedBackward(dt, mk(r32(randn(r, len(ids)*d)), len(ids), d), ids)
		e.EmbedBackward(nil, out, ids)
		return map[string][]float64{"out": values(out), "dtable": values(dt)}
	}},
	{"RMSNorm", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, n, d := newRand(5), 5, 10
		x, w := mk(r32(randn(r, n*d)), n, d), mk(r32(uniform(r, d, 0.5, 1.5)), d)
		out, rstd := mk(make([]float64, n*d), n, d), mk(make([]float64, n), n)
		e.RMSNorm(out, x, w, 1e-5, rstd)
		res := map[string][]float64{"out": values(out), "rstd": values(rstd)}
		e.RMSNorm(out, x, w, 1e-5, nil)
		res["out, rstd nil"] = values(out)
		dx, dw := mk(r32(randn(r, n*d)), n, d), mk(r32(randn(r, d)), d)
		g := mk(r32(randn(r, n*d)), n, d)
		e.RMSNormBackward(dx, dw, g, x, w, rstd)
		res["dx"], res["dw"] = values(dx), values(dw)
		e.RMSNormBackward(dx, nil, g, x, w, rstd)
		res["dx, dw nil"] = values(dx)
		return res
	}},
	{"RoPE", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, heads, hd, maxPos, pos := newRand(6), 3, 10, 16, []int32{15, 0, 7, 7, 2}
		c, s := ropeTables[float32](maxPos, hd, 10000)
		ct, st := mk(to64(c), maxPos, hd/2), mk(to64(s), maxPos, hd/2)
		x, dx := mk(r32(randn(r, len(pos)*heads*hd)), len(pos), heads*hd), mk(r32(randn(r, len(pos)*heads*hd)), len(pos), heads*hd)
		e.RoPE(x, pos, heads, ct, st)
		e.RoPEBackward(dx, pos, heads, ct, st)
		return map[string][]float64{"x": values(x), "dx": values(dx)}
	}},
	{"Attention", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		res := map[string][]float64{}
		for n, tc := range attnCases {
			s := tc.s
			r := newRand(uint64(70 + n))
			q, k, v := attnInputs(uint64(50+n), s)
			qs, kvs := []int{s.Batch * s.Tq, s.Heads * s.HeadDim}, []int{s.Batch * s.Tk, s.KVHeads * s.HeadDim}
			qt, kt, vt := mk(r32(q), qs...), mk(r32(k), kvs...), mk(r32(v), kvs...)
			out, lse := mk(make([]float64, len(q)), qs...), mk(make([]float64, s.Batch*s.Heads*s.Tq), s.Batch, s.Heads, s.Tq)
			e.Attention(out, qt, kt, vt, lse, s)
			res[tc.name+" out"], res[tc.name+" lse"] = values(out), values(lse)
			e.Attention(out, qt, kt, vt, nil, s)
			res[tc.name+" out, lse nil"] = values(out)
			dq, dk, dv := mk(r32(randn(r, len(q))), qs...), mk(r32(randn(r, len(k))), kvs...), mk(r32(randn(r, len(v))), kvs...)
			g := mk(r32(randn(r, len(q))), qs...)
			e.AttentionBackward(dq, dk, dv, g, qt, kt, vt, out, lse, s)
			res[tc.name+" dq"], res[tc.name+" dk"], res[tc.name+" dv"] = values(dq), values(dk), values(dv)
			e.AttentionBackward(nil, nil, dv, g, qt, kt, vt, out, lse, s)
			res[tc.name+" dv, dq dk nil"] = values(dv)
		}
		return res
	}},
	{"SwiGLU", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, n := newRand(7), 41
		g, u, out := mk(r32(uniform(r, n, -8, 8)), n), mk(r32(randn(r, n)), n), mk(make([]float64, n), n)
		e.SwiGLU(out, g, u)
		dg, du, dout := mk(r32(randn(r, n)), n), mk(r32(randn(r, n)), n), mk(r32(randn(r, n)), n)
		e.SwiGLUBackward(dg, du, dout, g, u)
		e.SwiGLUBackward(nil, du, dout, g, u)
		return map[string][]float64{"out": values(out), "dgate": values(dg), "dup, twice": values(du)}
	}},
	{"CrossEntropy", func(e compute.Engine, mk func([]float64, ...int) *tensor.Tensor) map[string][]float64 {
		r, rows, vocab := newRand(8), 6, 300
		labels := []int32{5, compute.IgnoreIndex, 299, 0, 17, 17}
		x := randn(r, rows*vocab)
		for i := range x {
			x[i] *= 4
		}
		logits, d := mk(r32(x), rows, vocab), mk(r32(randn(r, rows*vocab)), rows, vocab)
		sum, count := e.CrossEntropy(logits, labels, d, 0.2)
		res := map[string][]float64{"sum, count": {sum, float64(count)}, "dlogits": values(d)}
		s2, c2 := e.CrossEntropy(logits, labels, nil, 1)
		res["sum, count, dlogits nil"] = []float64{s2, float64(c2)}
		s3, c3 := e.CrossEntropy(logits, labels, logits, 0.2)
		res["sum, count, aliased"], res["dlogits aliased"] = []float64{s3, float64(c3)}, values(logits)
		return res
	}},
}

// TestEngine64MatchesEngine runs every op on Engine (F32) and Engine64 (F64)
// with the same values: they must agree within float32 rounding.
func TestEngine64MatchesEngine(t *testing.T) {
	for _, op := range engineOps {
		want := op.run(Engine{}, f32Tensor)
		got := op.run(Engine64{}, f64Tensor)
		if len(got) != len(want) {
			t.Fatalf("%s: Engine64 wrote %d outputs, Engine %d", op.name, len(got), len(want))
		}
		for name, w := range want {
			n := fmt.Sprintf("Engine64 %s %s vs Engine", op.name, name)
			if maxAbs(w) == 0 {
				t.Errorf("%s: Engine's output is zero everywhere; the comparison is vacuous", n)
			}
			closeTo(t, n, got[name], w, engTol)
		}
	}
}

// TestEngine64Precision checks that Engine64 keeps float64 precision where
// float32 would lose it: ε = 2⁻⁴⁰ is below float32's resolution at 1.
func TestEngine64Precision(t *testing.T) {
	e := Engine64{}
	eps := math.Ldexp(1, -40)
	// MatMul: [1+ε, ε]·[1, 1]ᵀ = 1 + 2ε exactly, in every layout.
	for i := range 4 {
		ta, tb := i&1 != 0, i&2 != 0
		a, b := f64Tensor([]float64{1 + eps, eps}, 1, 2), f64Tensor([]float64{1, 1}, 2, 1)
		if ta {
			a = a.Reshape(2, 1)
		}
		if tb {
			b = b.Reshape(1, 2)
		}
		c := tensor.New(tensor.F64, 1, 1)
		e.MatMul(c, a, b, ta, tb, false)
		if got := c.F64()[0]; got != 1+2*eps {
			t.Errorf("Engine64.MatMul([1+ε, ε], [1, 1], ta=%v, tb=%v) = 1 + %g, want 1 + 2ε = 1 + %g", ta, tb, got-1, 2*eps)
		}
	}
	// Embed copies F64 rows exactly; EmbedBackward accumulates exactly.
	out, dt := tensor.New(tensor.F64, 1, 2), f64Tensor([]float64{1, 1, 1, 1}, 2, 2)
	e.Embed(out, f64Tensor([]float64{0, 0, 1 + eps, -eps}, 2, 2), []int32{1})
	e.EmbedBackward(dt, out, []int32{1})
	if o, d := out.F64(), dt.F64(); o[0] != 1+eps || o[1] != -eps || d[2] != 2+eps || d[3] != 1-eps {
		t.Errorf("Engine64.Embed row 1 = %v, EmbedBackward into ones = %v, want [1+ε -ε] and [1 1 2+ε 1-ε] exactly (ε = %g)", o, d, eps)
	}
	// RoPE with float64 tables: RoPEBackward undoes RoPE to float64 rounding.
	heads, hd, maxPos := 2, 8, 64
	c, s := ropeTables[float64](maxPos, hd, 10000)
	ct, st := f64Tensor(c, maxPos, hd/2), f64Tensor(s, maxPos, hd/2)
	pos := []int32{63, 1, 40}
	x0 := randn(newRand(9), len(pos)*heads*hd)
	x := f64Tensor(x0, len(pos), heads*hd)
	e.RoPE(x, pos, heads, ct, st)
	if relErr(x.F64(), x0) < 1e-3 {
		t.Fatalf("Engine64.RoPE left x nearly unchanged")
	}
	e.RoPEBackward(x, pos, heads, ct, st)
	closeTo(t, "Engine64.RoPEBackward(RoPE(x))", x.F64(), x0, 1e-14)
	// CrossEntropy of logits [1, 1+ε] with label 0 is log(1 + e^ε), which
	// float32 logits would round to log 2.
	logits := f64Tensor([]float64{1, 1 + eps}, 1, 2)
	sum, _ := e.CrossEntropy(logits, []int32{0}, logits, 1)
	if want := math.Log1p(math.Exp(eps)); math.Abs(sum-want) > 1e-15 || sum-math.Ln2 < eps/4 {
		t.Errorf("Engine64.CrossEntropy([1, 1+ε], 0) = ln2 + %g, want ln2 + %g", sum-math.Ln2, want-math.Ln2)
	}
}

func TestEngine64Panics(t *testing.T) {
	e := Engine64{}
	f := func(shape ...int) *tensor.Tensor { return tensor.New(tensor.F64, shape...) }
	f32 := func(shape ...int) *tensor.Tensor { return tensor.New(tensor.F32, shape...) }
	s := shape(1, 2, 2, 0, 2, 1, 4, nil)
	tests := []struct {
		name, want string
		call       func()
	}{
		{"MatMul inner dims", "ref.Engine64.MatMul: b F64[4 2] (tb=false) is not 3 x 2", func() { e.MatMul(f(2, 2), f(2, 3), f(4, 2), false, false, false) }},
		{"MatMul rows", "ref.Engine64.MatMul: a F64[3 3] (ta=false) does not give 2 rows", func() { e.MatMul(f(2, 2), f(3, 3), f(3, 2), false, false, false) }},
		{"MatMul F32 b", "ref.Engine64.MatMul: b is F32[2 3], want F64", func() { e.MatMul(f(2, 2), f(2, 3), f32(2, 3), false, true, false) }},
		{"MatMul nil b", "ref.Engine64.MatMul: b is nil", func() { e.MatMul(f(2, 2), f(2, 3), nil, false, true, false) }},
		{"AddBias BF16 bias", "ref.Engine64.AddBias: bias is BF16[2], want F64", func() { e.AddBias(f(3, 2), tensor.New(tensor.BF16, 2)) }},
		{"AddBias size", "bias F64[3] does not match y F64[3 2]", func() { e.AddBias(f(3, 2), f(3)) }},
		{"Add F32", "ref.Engine64.Add: a is F32[4], want F64", func() { e.Add(f(4), f32(4), f(4)) }},
		{"Add sizes", "lengths dst 4, a 4, b 3 differ", func() { e.Add(f(4), f(4), f(3)) }},
		{"RMSNorm F32 weight", "ref.Engine64.RMSNorm: w is F32[4], want F64", func() { e.RMSNorm(f(2, 4), f(2, 4), f32(4), 1e-5, nil) }},
		{"RMSNorm weight size", "ref.Engine64.RMSNorm: w F64[3] does not match x F64[2 4]", func() { e.RMSNorm(f(2, 4), f(2, 4), f(3), 1e-5, nil) }},
		{"RMSNormBackward no rstd", "ref.Engine64.RMSNormBackward: rstd is nil", func() { e.RMSNormBackward(f(2, 4), nil, f(2, 4), f(2, 4), f(4), nil) }},
		{"RoPE F32 tables", "ref.Engine64.RoPE: cos is F32[8 2], want F64", func() { e.RoPE(f(2, 8), []int32{0, 1}, 2, f32(8, 2), f32(8, 2)) }},
		{"RoPE table width", "tables cos F64[8 3] and sin F64[8 3] are not [maxPos, 2]", func() { e.RoPE(f(2, 8), []int32{0, 1}, 2, f(8, 3), f(8, 3)) }},
		{"RoPEBackward positions", "ref.Engine64.RoPEBackward: x F64[2 8] has 2 rows for 3 positions", func() { e.RoPEBackward(f(2, 8), []int32{0, 1, 2}, 2, f(8, 2), f(8, 2)) }},
		{"Attention q shape", "ref.Engine64.Attention: q F64[2 6] is not [1*2, 2*4]", func() { e.Attention(f(2, 8), f(2, 6), f(2, 4), f(2, 4), nil, s) }},
		{"Attention lse shape", "lse F64[3] is not [1, 2, 2]", func() { e.Attention(f(2, 8), f(2, 8), f(2, 4), f(2, 4), f(3), s) }},
		{"AttentionBackward dk shape", "ref.Engine64.AttentionBackward: dk F64[2 8] does not match", func() {
			e.AttentionBackward(nil, f(2, 8), nil, f(2, 8), f(2, 8), f(2, 4), f(2, 4), f(2, 8), f(1, 2, 2), s)
		}},
		{"Embed table width", "ref.Engine64.Embed: out F64[2 4], table F64[5 3] and 2 ids do not match", func() { e.Embed(f(2, 4), f(5, 3), []int32{0, 1}) }},
		{"Embed id", "ids[1] = 5 is outside the table's 5 rows", func() { e.Embed(f(2, 3), f(5, 3), []int32{0, 5}) }},
		{"EmbedBackward id", "ids[0] = -1 is outside the table's 5 rows", func() { e.EmbedBackward(f(5, 3), f(1, 3), []int32{-1}) }},
		{"SwiGLUBackward sizes", "lengths dgate 4, dup 0, dout 5", func() { e.SwiGLUBackward(f(4), nil, f(5), f(5), f(5)) }},
		{"CrossEntropy rows", "ref.Engine64.CrossEntropy: logits F64[3 5] has 3 rows for 2 labels", func() { e.CrossEntropy(f(3, 5), []int32{0, 1}, nil, 1) }},
		{"CrossEntropy dlogits", "dlogits F64[3 4] does not match logits F64[3 5]", func() { e.CrossEntropy(f(3, 5), []int32{0, 1, 2}, f(3, 4), 1) }},
	}
	for _, tt := range tests {
		mustPanic(t, tt.name, tt.want, tt.call)
	}
}
