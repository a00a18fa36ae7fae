package ref

import (
	"fmt"
	"testing"

	"hone/compute"
	"hone/tensor"
)

// engTol is the agreement required between the float32 engine and the
// float64 generic functions on the same (float32-representable) inputs.
const engTol = 2e-5

// r32 rounds every value to float32 precision.
func r32(x []float64) []float64 { return to64(to32(x)) }

func TestEngineName(t *testing.T) {
	var e compute.Engine = Engine{}
	if got := e.Name(); got != "ref" {
		t.Errorf("Engine.Name() = %q, want %q", got, "ref")
	}
}

// weightTensor returns x as a tensor of dtype dt (F32, BF16 or F16) and the
// exact values the engine will see.
func weightTensor(x []float64, dt tensor.DType, shape ...int) (*tensor.Tensor, []float64) {
	w := tensor.FromF32(to32(x), shape...).To(dt)
	return w, to64(w.ToF32().F32())
}

// weightDTypes are the dtypes a weight may have.
var weightDTypes = []tensor.DType{tensor.F32, tensor.BF16, tensor.F16}

func TestEngineMatMul(t *testing.T) {
	r := newRand(30)
	e := Engine{}
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {70, 9, 33}, {2, 67, 64}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b, c0 := r32(randn(r, m*k)), randn(r, k*n), r32(randn(r, m*n))
				aShape, bShape := []int{m, k}, []int{k, n}
				if ta {
					aShape = []int{k, m}
				}
				if tb {
					bShape = []int{n, k}
				}
				for _, dt := range weightDTypes {
					for _, acc := range []bool{false, true} {
						name := fmt.Sprintf("Engine.MatMul(m=%d n=%d k=%d ta=%v tb=%v b %v acc=%v)", m, n, k, ta, tb, dt, acc)
						bt, bv := weightTensor(b, dt, bShape...)
						c := f32Tensor(c0, m, n)
						e.MatMul(c, f32Tensor(a, aShape...), bt, ta, tb, acc)
						want := append([]float64(nil), c0...)
						MatMul(want, a, bv, m, n, k, ta, tb, acc)
						closeTo(t, name, c.F32(), want, engTol)
						if dt != tensor.F32 && !acc {
							// The half-precision path widens rows of b and
							// sums in the same order: bit-identical to F32 b
							// of the same values.
							cf := tensor.New(tensor.F32, m, n)
							e.MatMul(cf, f32Tensor(a, aShape...), f32Tensor(bv, bShape...), ta, tb, false)
							for i, v := range c.F32() {
								if cf.F32()[i] != v {
									t.Fatalf("%s[%d] = %v, F32 b of the same values gives %v", name, i, v, cf.F32()[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestEngineAddBias(t *testing.T) {
	r := newRand(31)
	e := Engine{}
	m, n := 4, 7
	for _, dt := range weightDTypes {
		y0, bias := r32(randn(r, m*n)), randn(r, n)
		bt, bv := weightTensor(bias, dt, n)
		y := f32Tensor(y0, m, n)
		e.AddBias(y, bt)
		want := append([]float64(nil), y0...)
		AddBias(want, bv, m, n)
		closeTo(t, fmt.Sprintf("Engine.AddBias(bias %v)", dt), y.F32(), want, engTol)
	}
	dy, db0 := r32(randn(r, m*n)), r32(randn(r, n))
	db := f32Tensor(db0, n)
	e.AddBiasBackward(db, f32Tensor(dy, m, n))
	want := append([]float64(nil), db0...)
	AddBiasBackward(want, dy, m, n)
	closeTo(t, "Engine.AddBiasBackward", db.F32(), want, engTol)
	e.AddBiasBackward(nil, f32Tensor(dy, m, n)) // frozen bias: skipped
}

func TestEngineElementwise(t *testing.T) {
	r := newRand(32)
	e := Engine{}
	a, b := r32(randn(r, 10)), r32(randn(r, 10))
	dst := tensor.New(tensor.F32, 2, 5)
	e.Add(dst, f32Tensor(a, 2, 5), f32Tensor(b, 2, 5))
	want := make([]float64, 10)
	Add(want, a, b)
	closeTo(t, "Engine.Add", dst.F32(), want, 1e-7)
	e.AddScaled(dst, f32Tensor(b, 2, 5), -0.25)
	AddScaled(want, b, -0.25)
	closeTo(t, "Engine.AddScaled", dst.F32(), want, 1e-6)
	e.Scale(dst, 3)
	Scale(want, 3)
	closeTo(t, "Engine.Scale", dst.F32(), want, 1e-6)
}

func TestEngineEmbed(t *testing.T) {
	r := newRand(33)
	e := Engine{}
	vocab, d := 9, 6
	ids := []int32{8, 0, 8, 4}
	for _, dt := range weightDTypes {
		tt, tv := weightTensor(randn(r, vocab*d), dt, vocab, d)
		out := tensor.New(tensor.F32, len(ids), d)
		e.Embed(out, tt, ids)
		want := make([]float64, len(ids)*d)
		Embed(want, tv, ids, d)
		closeTo(t, fmt.Sprintf("Engine.Embed(table %v)", dt), out.F32(), want, 0)
	}
	g, dt0 := r32(randn(r, len(ids)*d)), r32(randn(r, vocab*d))
	dt := f32Tensor(dt0, vocab, d)
	e.EmbedBackward(dt, f32Tensor(g, len(ids), d), ids)
	want := append([]float64(nil), dt0...)
	EmbedBackward(want, g, ids, d)
	closeTo(t, "Engine.EmbedBackward", dt.F32(), want, engTol)
	e.EmbedBackward(nil, f32Tensor(g, len(ids), d), ids) // frozen table: skipped
}

func TestEngineRMSNorm(t *testing.T) {
	r := newRand(34)
	e := Engine{}
	n, d := 5, 10
	for _, dt := range weightDTypes {
		x, g := r32(randn(r, n*d)), r32(randn(r, n*d))
		wt, wv := weightTensor(uniform(r, d, 0.5, 1.5), dt, d)
		out, rstd := tensor.New(tensor.F32, n, d), tensor.New(tensor.F32, n)
		e.RMSNorm(out, f32Tensor(x, n, d), wt, 1e-5, rstd)
		wantOut, wantRstd := make([]float64, n*d), make([]float64, n)
		RMSNorm(wantOut, x, wv, n, d, 1e-5, wantRstd)
		name := fmt.Sprintf("Engine.RMSNorm(w %v)", dt)
		closeTo(t, name, out.F32(), wantOut, engTol)
		closeTo(t, name+" rstd", rstd.F32(), wantRstd, engTol)
		e.RMSNorm(out, f32Tensor(x, n, d), wt, 1e-5, nil)
		closeTo(t, name+" rstd nil", out.F32(), wantOut, engTol)

		dx0, dw0 := r32(randn(r, n*d)), r32(randn(r, d))
		dx, dw := f32Tensor(dx0, n, d), f32Tensor(dw0, d)
		e.RMSNormBackward(dx, dw, f32Tensor(g, n, d), f32Tensor(x, n, d), wt, rstd)
		wantDx, wantDw := append([]float64(nil), dx0...), append([]float64(nil), dw0...)
		RMSNormBackward(wantDx, wantDw, g, x, wv, wantRstd, n, d)
		closeTo(t, name+" dx", dx.F32(), wantDx, engTol)
		closeTo(t, name+" dw", dw.F32(), wantDw, engTol)
		e.RMSNormBackward(dx, nil, f32Tensor(g, n, d), f32Tensor(x, n, d), wt, rstd) // frozen norm
	}
}

func TestEngineRoPE(t *testing.T) {
	r := newRand(35)
	e := Engine{}
	heads, hd, maxPos := 3, 10, 16
	pos := []int32{15, 0, 7, 7, 2}
	c32, s32 := ropeTables[float32](maxPos, hd, 10000)
	cv, sv := to64(c32), to64(s32)
	ct, st := tensor.FromF32(c32, maxPos, hd/2), tensor.FromF32(s32, maxPos, hd/2)
	x := r32(randn(r, len(pos)*heads*hd))
	xt := f32Tensor(x, len(pos), heads*hd)
	e.RoPE(xt, pos, heads, ct, st)
	want := append([]float64(nil), x...)
	RoPE(want, pos, heads, hd, cv, sv)
	closeTo(t, "Engine.RoPE", xt.F32(), want, engTol)
	e.RoPEBackward(xt, pos, heads, ct, st)
	RoPEBackward(want, pos, heads, hd, cv, sv)
	closeTo(t, "Engine.RoPEBackward", xt.F32(), want, engTol)
	closeTo(t, "Engine.RoPEBackward(RoPE(x))", xt.F32(), x, engTol)
}

func TestEngineAttention(t *testing.T) {
	e := Engine{}
	for n, tc := range attnCases {
		s := tc.s
		q, k, v := attnInputs(uint64(50+n), s)
		q, k, v = r32(q), r32(k), r32(v)
		qt := f32Tensor(q, s.Batch*s.Tq, s.Heads*s.HeadDim)
		kt := f32Tensor(k, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
		vt := f32Tensor(v, s.Batch*s.Tk, s.KVHeads*s.HeadDim)
		out, lse := tensor.New(tensor.F32, s.Batch*s.Tq, s.Heads*s.HeadDim), tensor.New(tensor.F32, s.Batch, s.Heads, s.Tq)
		e.Attention(out, qt, kt, vt, lse, s)
		wantOut, wantLse := make([]float64, len(q)), make([]float64, s.Batch*s.Heads*s.Tq)
		Attention(wantOut, q, k, v, wantLse, s)
		name := "Engine.Attention(" + tc.name + ")"
		closeTo(t, name, out.F32(), wantOut, engTol)
		closeTo(t, name+" lse", lse.F32(), wantLse, engTol)

		g := r32(randn(newRand(uint64(60+n)), len(q)))
		dq, dk, dv := tensor.New(tensor.F32, qt.Shape...), tensor.New(tensor.F32, kt.Shape...), tensor.New(tensor.F32, vt.Shape...)
		e.AttentionBackward(dq, dk, dv, f32Tensor(g, qt.Shape...), qt, kt, vt, out, lse, s)
		wdq, wdk, wdv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
		AttentionBackward(wdq, wdk, wdv, g, q, k, v, wantOut, wantLse, s)
		closeTo(t, name+" dq", dq.F32(), wdq, engTol)
		closeTo(t, name+" dk", dk.F32(), wdk, engTol)
		closeTo(t, name+" dv", dv.F32(), wdv, engTol)
		e.AttentionBackward(nil, nil, dv, f32Tensor(g, qt.Shape...), qt, kt, vt, out, lse, s)
	}
}

func TestEngineSwiGLU(t *testing.T) {
	r := newRand(36)
	e := Engine{}
	n := 41
	g, u, dout := r32(uniform(r, n, -8, 8)), r32(randn(r, n)), r32(randn(r, n))
	out := tensor.New(tensor.F32, n)
	e.SwiGLU(out, f32Tensor(g, n), f32Tensor(u, n))
	want := make([]float64, n)
	SwiGLU(want, g, u)
	closeTo(t, "Engine.SwiGLU", out.F32(), want, engTol)
	dg, du := tensor.New(tensor.F32, n), tensor.New(tensor.F32, n)
	e.SwiGLUBackward(dg, du, f32Tensor(dout, n), f32Tensor(g, n), f32Tensor(u, n))
	wdg, wdu := make([]float64, n), make([]float64, n)
	SwiGLUBackward(wdg, wdu, dout, g, u)
	closeTo(t, "Engine.SwiGLUBackward dgate", dg.F32(), wdg, engTol)
	closeTo(t, "Engine.SwiGLUBackward dup", du.F32(), wdu, engTol)
	e.SwiGLUBackward(nil, du, f32Tensor(dout, n), f32Tensor(g, n), f32Tensor(u, n))
}

func TestEngineCrossEntropy(t *testing.T) {
	r := newRand(37)
	e := Engine{}
	rows, vocab := 6, 300
	labels := []int32{5, compute.IgnoreIndex, 299, 0, 17, 17}
	x := r32(randn(r, rows*vocab))
	for i := range x {
		x[i] = float64(float32(4 * x[i]))
	}
	logits := f32Tensor(x, rows, vocab)
	d := tensor.New(tensor.F32, rows, vocab)
	sum, count := e.CrossEntropy(logits, labels, d, 0.2)
	wantD := make([]float64, rows*vocab)
	wantSum, wantCount := CrossEntropy(x, labels, wantD, vocab, 0.2)
	if count != wantCount || relErr([]float64{sum}, []float64{wantSum}) > 1e-6 {
		t.Errorf("Engine.CrossEntropy = %v, %d, want %v, %d", sum, count, wantSum, wantCount)
	}
	closeTo(t, "Engine.CrossEntropy dlogits", d.F32(), wantD, engTol)
	// Without the gradient, and with dlogits aliasing logits.
	if s2, c2 := e.CrossEntropy(logits, labels, nil, 1); s2 != sum || c2 != count {
		t.Errorf("Engine.CrossEntropy(dlogits nil) = %v, %d, want %v, %d", s2, c2, sum, count)
	}
	if s3, _ := e.CrossEntropy(logits, labels, logits, 0.2); s3 != sum {
		t.Errorf("Engine.CrossEntropy(aliased) = %v, want %v", s3, sum)
	}
	closeTo(t, "Engine.CrossEntropy aliased dlogits", logits.F32(), to64(d.F32()), 0)
}

func TestEnginePanics(t *testing.T) {
	e := Engine{}
	f := func(shape ...int) *tensor.Tensor { return tensor.New(tensor.F32, shape...) }
	s := shape(1, 2, 2, 0, 2, 1, 4, nil)
	tests := []struct {
		name, want string
		call       func()
	}{
		{"MatMul inner dims", "ref.MatMul: b F32[4 2] (tb=false) is not 3 x 2", func() { e.MatMul(f(2, 2), f(2, 3), f(4, 2), false, false, false) }},
		{"MatMul rows", "ref.MatMul: a F32[3 3] (ta=false) does not give 2 rows", func() { e.MatMul(f(2, 2), f(3, 3), f(3, 2), false, false, false) }},
		{"MatMul I32 b", "b is I32[2 3], want F32, BF16 or F16", func() { e.MatMul(f(2, 2), f(2, 3), tensor.New(tensor.I32, 2, 3), false, true, false) }},
		{"MatMul BF16 a", "a is BF16[2 3], want F32", func() { e.MatMul(f(2, 2), tensor.New(tensor.BF16, 2, 3), f(3, 2), false, false, false) }},
		{"RMSNorm weight size", "ref.RMSNorm: w F32[3] does not match x F32[2 4]", func() { e.RMSNorm(f(2, 4), f(2, 4), f(3), 1e-5, nil) }},
		{"RMSNorm rstd size", "rstd F32[3] does not match", func() { e.RMSNorm(f(2, 4), f(2, 4), f(4), 1e-5, f(3)) }},
		{"RMSNormBackward no rstd", "ref.RMSNormBackward: rstd is nil", func() { e.RMSNormBackward(f(2, 4), nil, f(2, 4), f(2, 4), f(4), nil) }},
		{"RoPE table width", "tables cos F32[8 3] and sin F32[8 3] are not [maxPos, 2]", func() { e.RoPE(f(2, 8), []int32{0, 1}, 2, f(8, 3), f(8, 3)) }},
		{"RoPE positions", "x F32[2 8] has 2 rows for 3 positions", func() { e.RoPE(f(2, 8), []int32{0, 1, 2}, 2, f(8, 2), f(8, 2)) }},
		{"Attention q shape", "ref.Attention: q F32[2 6] is not [1*2, 2*4]", func() { e.Attention(f(2, 8), f(2, 6), f(2, 4), f(2, 4), nil, s) }},
		{"Attention lse shape", "lse F32[3] is not [1, 2, 2]", func() { e.Attention(f(2, 8), f(2, 8), f(2, 4), f(2, 4), f(3), s) }},
		{"AttentionBackward dk shape", "dk F32[2 8] does not match", func() {
			e.AttentionBackward(nil, f(2, 8), nil, f(2, 8), f(2, 8), f(2, 4), f(2, 4), f(2, 8), f(1, 2, 2), s)
		}},
		{"Embed table width", "ref.Embed: out F32[2 4], table F32[5 3] and 2 ids do not match", func() { e.Embed(f(2, 4), f(5, 3), []int32{0, 1}) }},
		{"Embed id", "ids[1] = 5 is outside the table's 5 rows", func() { e.Embed(f(2, 3), f(5, 3), []int32{0, 5}) }},
		{"CrossEntropy rows", "logits F32[3 5] has 3 rows for 2 labels", func() { e.CrossEntropy(f(3, 5), []int32{0, 1}, nil, 1) }},
		{"Add sizes", "ref.Add: lengths dst 4, a 4, b 3 differ", func() { e.Add(f(4), f(4), f(3)) }},
		{"SwiGLU sizes", "ref.SwiGLU: lengths out 4, gate 5", func() { e.SwiGLU(f(4), f(5), f(4)) }},
	}
	for _, tt := range tests {
		mustPanic(t, tt.name, tt.want, tt.call)
	}
}

// TestEngineRMSNormHeads normalises each head of q separately, as Qwen3's
// q_norm does, through a [n, heads, hd] view of a [n, heads*hd] tensor.
func TestEngineRMSNormHeads(t *testing.T) {
	r := newRand(38)
	n, heads, hd := 3, 4, 6
	x, w := r32(randn(r, n*heads*hd)), r32(uniform(r, hd, 0.5, 1.5))
	q := f32Tensor(x, n, heads*hd)
	out := tensor.New(tensor.F32, n, heads*hd)
	Engine{}.RMSNorm(out.Reshape(n, heads, hd), q.Reshape(n, heads, hd), f32Tensor(w, hd), 1e-6, nil)
	want := make([]float64, len(x))
	for i := range n * heads {
		RMSNorm(want[i*hd:(i+1)*hd], x[i*hd:(i+1)*hd], w, 1, hd, 1e-6, nil)
	}
	closeTo(t, "Engine.RMSNorm(per head view)", out.F32(), want, engTol)
}
