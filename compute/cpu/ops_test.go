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

// closeTo fails unless got and want agree within tol relative to the
// largest |want| (and elementwise NaN-free).
func closeTo(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	scale := 1e-30
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= tol*scale) {
			t.Fatalf("%s[%d] = %g, want %g (|diff| %.3g > %.3g)", name, i, got[i], want[i], d, tol*scale)
		}
	}
}

func clone(x *tensor.Tensor) *tensor.Tensor {
	c := tensor.New(x.DType, x.Shape...)
	copy(c.Data, x.Data)
	return c
}

// fastEngines returns one engine per kernel set with 2 threads: the
// AVX-512 vector primitives and the Go fallbacks both get tested.
func fastEngines(t testing.TB) []*Engine {
	var es []*Engine
	for _, k := range availableKernels() {
		e := newWithKernels(2, k)
		t.Cleanup(e.Close)
		es = append(es, e)
	}
	return es
}

var rowSizes = [][2]int{{1, 1}, {3, 7}, {7, 63}, {65, 64}, {33, 577}, {200, 1000}}

func TestElementwise(t *testing.T) {
	r := newRand(10)
	var rf ref.Engine
	for _, e := range fastEngines(t) {
		for _, sz := range rowSizes {
			n, d := sz[0], sz[1]
			name := fmt.Sprintf("%s/%dx%d", e.Name(), n, d)
			a, b := randT(r, n, d), randT(r, n, d)
			got, want := tensor.New(tensor.F32, n, d), tensor.New(tensor.F32, n, d)
			e.Add(got, a, b)
			rf.Add(want, a, b)
			closeTo(t, name+" Add", got.F32(), want.F32(), 0)
			e.AddScaled(got, a, 0.3)
			rf.AddScaled(want, a, 0.3)
			closeTo(t, name+" AddScaled", got.F32(), want.F32(), 1e-6)
			e.Scale(got, -1.7)
			rf.Scale(want, -1.7)
			closeTo(t, name+" Scale", got.F32(), want.F32(), 1e-6)
			// Add in place (dst aliases a).
			e.Add(a, a, b)
			rf.Add(want, clone(a), tensor.New(tensor.F32, n, d))
			closeTo(t, name+" Add aliased", a.F32(), want.F32(), 0)
		}
	}
}

func TestRMSNorm(t *testing.T) {
	r := newRand(11)
	var rf ref.Engine
	for _, e := range fastEngines(t) {
		for _, sz := range rowSizes {
			n, d := sz[0], sz[1]
			for _, wt := range []tensor.DType{tensor.F32, tensor.BF16} {
				name := fmt.Sprintf("%s/%dx%d/w=%v", e.Name(), n, d, wt)
				x, w := randT(r, n, d), randT(r, d).To(wt)
				got, want := tensor.New(tensor.F32, n, d), tensor.New(tensor.F32, n, d)
				rg, rw := tensor.New(tensor.F32, n), tensor.New(tensor.F32, n)
				e.RMSNorm(got, x, w, 1e-5, rg)
				rf.RMSNorm(want, x, w, 1e-5, rw)
				closeTo(t, name+" RMSNorm", got.F32(), want.F32(), 1e-5)
				closeTo(t, name+" RMSNorm rstd", rg.F32(), rw.F32(), 1e-5)

				dout := randT(r, n, d)
				dxg, dxw := randT(r, n, d), tensor.New(tensor.F32, n, d)
				copy(dxw.F32(), dxg.F32())
				dwg, dww := randT(r, d), tensor.New(tensor.F32, d)
				copy(dww.F32(), dwg.F32())
				e.RMSNormBackward(dxg, dwg, dout, x, w, rw)
				rf.RMSNormBackward(dxw, dww, dout, x, w, rw)
				closeTo(t, name+" RMSNormBackward dx", dxg.F32(), dxw.F32(), 1e-5)
				closeTo(t, name+" RMSNormBackward dw", dwg.F32(), dww.F32(), 1e-5)
				// dw alone, dx alone.
				e.RMSNormBackward(nil, dwg, dout, x, w, rw)
				rf.RMSNormBackward(nil, dww, dout, x, w, rw)
				closeTo(t, name+" RMSNormBackward dw only", dwg.F32(), dww.F32(), 1e-5)
			}
		}
	}
}

func TestSwiGLU(t *testing.T) {
	r := newRand(12)
	var rf ref.Engine
	for _, e := range fastEngines(t) {
		for _, sz := range rowSizes {
			n, d := sz[0], sz[1]
			name := fmt.Sprintf("%s/%dx%d", e.Name(), n, d)
			g, u := randT(r, n, d), randT(r, n, d)
			// include large |gate| where exp saturates
			g.F32()[0] = 120
			if n*d > 1 {
				g.F32()[1] = -120
			}
			got, want := tensor.New(tensor.F32, n, d), tensor.New(tensor.F32, n, d)
			e.SwiGLU(got, g, u)
			rf.SwiGLU(want, g, u)
			closeTo(t, name+" SwiGLU", got.F32(), want.F32(), 2e-6)
			dout := randT(r, n, d)
			dgg, dug := randT(r, n, d), randT(r, n, d)
			dgw, duw := clone(dgg), clone(dug)
			e.SwiGLUBackward(dgg, dug, dout, g, u)
			rf.SwiGLUBackward(dgw, duw, dout, g, u)
			closeTo(t, name+" SwiGLUBackward dgate", dgg.F32(), dgw.F32(), 2e-6)
			closeTo(t, name+" SwiGLUBackward dup", dug.F32(), duw.F32(), 2e-6)
			e.SwiGLUBackward(nil, dug, dout, g, u)
			rf.SwiGLUBackward(nil, duw, dout, g, u)
			closeTo(t, name+" SwiGLUBackward dup only", dug.F32(), duw.F32(), 2e-6)
		}
	}
}

func TestRoPE(t *testing.T) {
	r := newRand(13)
	var rf ref.Engine
	for _, e := range fastEngines(t) {
		for _, c := range []struct{ n, heads, hd, maxPos int }{{1, 1, 2, 1}, {7, 3, 6, 9}, {65, 9, 64, 100}, {300, 4, 128, 512}} {
			name := fmt.Sprintf("%s/n=%d heads=%d hd=%d", e.Name(), c.n, c.heads, c.hd)
			cos, sin := randT(r, c.maxPos, c.hd/2), randT(r, c.maxPos, c.hd/2)
			pos := make([]int32, c.n)
			for i := range pos {
				pos[i] = int32(r.IntN(c.maxPos))
			}
			x := randT(r, c.n, c.heads*c.hd)
			y := clone(x)
			e.RoPE(x, pos, c.heads, cos, sin)
			rf.RoPE(y, pos, c.heads, cos, sin)
			closeTo(t, name+" RoPE", x.F32(), y.F32(), 0)
			e.RoPEBackward(x, pos, c.heads, cos, sin)
			rf.RoPEBackward(y, pos, c.heads, cos, sin)
			closeTo(t, name+" RoPEBackward", x.F32(), y.F32(), 0)
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	r := newRand(14)
	var rf ref.Engine
	for _, e := range fastEngines(t) {
		for _, sz := range [][2]int{{1, 1}, {3, 7}, {9, 63}, {40, 577}, {64, 5000}} {
			n, vocab := sz[0], sz[1]
			name := fmt.Sprintf("%s/%dx%d", e.Name(), n, vocab)
			logits := randT(r, n, vocab)
			for i := range logits.F32() {
				logits.F32()[i] *= 4
			}
			labels := make([]int32, n)
			for i := range labels {
				labels[i] = int32(r.IntN(vocab))
				if i%3 == 2 {
					labels[i] = compute.IgnoreIndex
				}
			}
			// loss only
			sg, cg := e.CrossEntropy(logits, labels, nil, 0)
			sw, cw := rf.CrossEntropy(logits, labels, nil, 0)
			if cg != cw || math.Abs(sg-sw) > 1e-5*(1+math.Abs(sw)) {
				t.Fatalf("%s CrossEntropy = %g, %d, want %g, %d", name, sg, cg, sw, cw)
			}
			// with gradient into a separate tensor, then aliased
			dg, dw := randT(r, n, vocab), randT(r, n, vocab)
			sg, cg = e.CrossEntropy(logits, labels, dg, 0.25)
			sw, cw = rf.CrossEntropy(logits, labels, dw, 0.25)
			if cg != cw || math.Abs(sg-sw) > 1e-5*(1+math.Abs(sw)) {
				t.Fatalf("%s CrossEntropy(dlogits) = %g, %d, want %g, %d", name, sg, cg, sw, cw)
			}
			closeTo(t, name+" dlogits", dg.F32(), dw.F32(), 2e-6)
			al := clone(logits)
			sg, _ = e.CrossEntropy(al, labels, al, 0.25)
			if math.Abs(sg-sw) > 1e-5*(1+math.Abs(sw)) {
				t.Fatalf("%s CrossEntropy(aliased) = %g, want %g", name, sg, sw)
			}
			closeTo(t, name+" dlogits aliased", al.F32(), dw.F32(), 2e-6)
		}
	}
}

// vecSets returns the vector primitive sets this CPU runs, by name.
func vecSets(t *testing.T) map[string]*vecSet {
	sets := map[string]*vecSet{}
	for _, k := range availableKernels() {
		if k.vec != nil {
			sets[k.name] = k.vec
		}
	}
	if len(sets) == 0 {
		t.Skip("no vector primitives on this CPU: the Go loops are all there is")
	}
	return sets
}

func TestVec(t *testing.T) {
	r := newRand(15)
	for name, v := range vecSets(t) {
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 33, 64, 65, 200, 1000} {
			x, y := randT(r, n).F32(), randT(r, n).F32()
			if g, w := dot(v, x, y), dot(nil, x, y); math.Abs(float64(g-w)) > 1e-5*float64(n) {
				t.Errorf("%s dot(n=%d) = %g, want %g", name, n, g, w)
			}
			if g, w := vmax(v, x), vmax(nil, x); g != w {
				t.Errorf("%s vmax(n=%d) = %g, want %g", name, n, g, w)
			}
			a, b := append([]float32(nil), y...), append([]float32(nil), y...)
			axpy(v, a, x, 0.7)
			axpy(nil, b, x, 0.7)
			closeTo(t, fmt.Sprintf("%s axpy(n=%d)", name, n), a, b, 1e-7)
			for i := range x {
				x[i] *= 30
			}
			x[0] = float32(math.Inf(-1))
			if n > 3 {
				x[3] = -200 // underflows to 0 in every version
			}
			ga, gb := make([]float32, n), make([]float32, n)
			if scale := float32(-1); true {
				// SwiGLU's exp(-g): the tail's padding must stay out of the sum
				xs := make([]float32, n)
				for i := range xs {
					xs[i] = float32(i%7) - 3
				}
				sa, sb := vexp(v, ga, xs, scale, 0.5), vexp(nil, gb, xs, scale, 0.5)
				closeTo(t, fmt.Sprintf("%s vexp(n=%d, scale -1)", name, n), ga, gb, 4e-7)
				if math.Abs(sa-sb) > 1e-6*sb {
					t.Errorf("%s vexp(n=%d, scale -1) sum = %g, want %g", name, n, sa, sb)
				}
			}
			sa, sb := vexp(v, ga, x, 1, 5), vexp(nil, gb, x, 1, 5)
			for i := range ga {
				// Below exp(-87) the AVX2 version returns 0, and both
				// saturate instead of overflowing (documented on vexp).
				if gb[i] < 1e-37 && ga[i] < 1e-37 || gb[i] > 1e38 && ga[i] > 1e38 {
					continue
				}
				if d := math.Abs(float64(ga[i]-gb[i])) / float64(gb[i]); d > 4e-7 {
					t.Fatalf("%s vexp(n=%d)[%d] of %g = %g, want %g (rel %.3g)", name, n, i, x[i], ga[i], gb[i], d)
				}
			}
			if ga[0] != 0 {
				t.Errorf("%s vexp(-Inf) = %g, want 0", name, ga[0])
			}
			if !math.IsInf(sb, 1) && math.Abs(sa-sb) > 1e-6*sb {
				t.Errorf("%s vexp(n=%d) sum = %g, want %g", name, n, sa, sb)
			}
		}
	}
}

// TestGroupRowPrimitives checks the grouped-query forms of dotsBF16 and
// accRowsBF16, and of dots and accRows (g heads sharing one key and value
// head, at strides of their own, over a bf16 and a float32 cache) against
// the one-head primitives, bit for bit, and against the Go versions within
// float32 rounding, at awkward sizes.
func TestGroupRowPrimitives(t *testing.T) {
	r := newRand(17)
	for vname, v := range vecSets(t) {
		for _, hd := range []int{8, 16, 48, 64, 80, 128} {
			for _, nk := range []int{1, 3, 4, 5, 7, 63, 65, 577} {
				for _, g := range []int{1, 2, 3, 4, 5, 7} {
					ld := hd*2 + 16
					q := randT(r, g*hd).F32()
					rows := randT(r, nk*ld)
					name := fmt.Sprintf("%s(hd=%d nk=%d g=%d)", vname, hd, nk, g)
					checkGroupRows(t, "BF16"+name, r, v, q, hd, rows.To(tensor.BF16).BF16(), ld, nk, g,
						dotsGroupBF16, dotsBF16, accRowsGroupBF16, accRowsBF16)
					checkGroupRows(t, name, r, v, q, hd, rows.F32(), ld, nk, g, dotsGroup, dots, accRowsGroup, accRows)
				}
			}
		}
	}
}

// elem returns a float32 or a bf16 as a float64.
func elem[T float32 | uint16](x T) float64 {
	switch x := any(x).(type) {
	case uint16:
		return float64(tensor.BF16ToF32(x))
	case float32:
		return float64(x)
	}
	panic("unreachable")
}

// checkGroupRows is TestGroupRowPrimitives for one kind of rows: dotsG and
// accG against dotsOne and accOne head by head.
func checkGroupRows[T float32 | uint16](t *testing.T, name string, r *rand.Rand, v *vecSet, q []float32, hd int, kh []T, ld, nk, g int,
	dotsG func(v *vecSet, out []float32, ldo int, q []float32, hd int, k []T, ldk, nk int),
	dotsOne func(v *vecSet, out, q []float32, k []T, ldk int),
	accG func(v *vecSet, o []float32, ldo, hd, g int, p []float32, ldp, nk int, rows []T, ldv int),
	accOne func(v *vecSet, o, p []float32, rows []T, ldv int)) {
	t.Helper()
	ldo := nk + 3
	got := make([]float32, g*ldo)
	dotsG(v, got, ldo, q, hd, kh, ld, nk)
	for i := 0; i < g; i++ {
		want, ref := make([]float32, nk), make([]float32, nk)
		dotsOne(v, want, q[i*hd:(i+1)*hd], kh, ld)
		dotsOne(nil, ref, q[i*hd:(i+1)*hd], kh, ld)
		row := got[i*ldo : i*ldo+nk]
		for j := range want {
			if row[j] != want[j] {
				t.Fatalf("dotsGroup%s head %d key %d = %g, one head %g", name, i, j, row[j], want[j])
			}
		}
		for j := range ref {
			var mag float64
			for d := range hd {
				mag += math.Abs(float64(q[i*hd+d]) * elem(kh[j*ld+d]))
			}
			if e := math.Abs(float64(row[j] - ref[j])); e > float64(hd)*0x1p-23*mag {
				t.Fatalf("dotsGroup%s head %d key %d = %g, the Go loop %g (|diff| %.3g of %.3g)", name, i, j, row[j], ref[j], e, mag)
			}
		}
	}

	ldp, ldh := nk+5, hd+2
	p := randT(r, g*ldp).F32()
	o := randT(r, g*ldh).F32()
	oa := append([]float32(nil), o...)
	accG(v, oa, ldh, hd, g, p, ldp, nk, kh, ld)
	for i := 0; i < g; i++ {
		want := append([]float32(nil), o[i*ldh:i*ldh+hd]...)
		ref := append([]float32(nil), want...)
		accOne(v, want, p[i*ldp:i*ldp+nk], kh, ld)
		accOne(nil, ref, p[i*ldp:i*ldp+nk], kh, ld)
		row := oa[i*ldh : i*ldh+hd]
		for d := range want {
			if row[d] != want[d] {
				t.Fatalf("accRowsGroup%s head %d [%d] = %g, one head %g", name, i, d, row[d], want[d])
			}
		}
		for d := range ref {
			mag := math.Abs(float64(o[i*ldh+d]))
			for j := range nk {
				mag += math.Abs(float64(p[i*ldp+j]) * elem(kh[j*ld+d]))
			}
			if e := math.Abs(float64(row[d] - ref[d])); e > float64(nk+1)*0x1p-23*mag {
				t.Fatalf("accRowsGroup%s head %d [%d] = %g, the Go loop %g (|diff| %.3g of %.3g)", name, i, d, row[d], ref[d], e, mag)
			}
		}
		if i < g-1 {
			// the columns between heads are left alone
			for d := hd; d < ldh; d++ {
				if oa[i*ldh+d] != o[i*ldh+d] {
					t.Fatalf("accRowsGroup%s wrote column %d of head %d's stride", name, d, i)
				}
			}
		}
	}
}

// TestRowPrimitives checks the row primitives of attention and GEMV
// against their Go versions, for head dimensions that take the wide and
// narrow paths.
func TestRowPrimitives(t *testing.T) {
	r := newRand(16)
	for vname, v := range vecSets(t) {
		for _, hd := range []int{8, 16, 24, 48, 64, 80, 128} {
			for _, nk := range []int{1, 2, 4, 7, 48, 65} {
				ld := hd + 16
				q, k := randT(r, hd).F32(), randT(r, nk*ld).F32()
				kh := tensor.FromF32(k, nk*ld).To(tensor.BF16).BF16()
				name := fmt.Sprintf("%s(hd=%d nk=%d)", vname, hd, nk)

				ga, gb := make([]float32, nk), make([]float32, nk)
				dots(v, ga, q, k, ld)
				dots(nil, gb, q, k, ld)
				closeTo(t, "dots"+name, ga, gb, 1e-5)
				dotsBF16(v, ga, q, kh, ld)
				dotsBF16(nil, gb, q, kh, ld)
				closeTo(t, "dotsBF16"+name, ga, gb, 1e-5)
				dotsSeq(v, ga, q, k, ld)
				dots(nil, gb, q, k, ld)
				closeTo(t, "dotsSeq"+name, ga, gb, 1e-5)
				dotsSeqBF16(v, ga, q, kh, ld)
				dotsBF16(nil, gb, q, kh, ld)
				closeTo(t, "dotsSeqBF16"+name, ga, gb, 1e-5)

				p := randT(r, nk).F32()
				oa := randT(r, hd).F32()
				ob := append([]float32(nil), oa...)
				accRows(v, oa, p, k, ld)
				accRows(nil, ob, p, k, ld)
				closeTo(t, "accRows"+name, oa, ob, 1e-5)
				ob = append(ob[:0], oa...)
				accRowsBF16(v, oa, p, kh, ld)
				accRowsBF16(nil, ob, p, kh, ld)
				closeTo(t, "accRowsBF16"+name, oa, ob, 1e-5)

				da := randT(r, nk*ld).F32()
				db := append([]float32(nil), da...)
				for _, kk := range []int{1, 3, 8} {
					c := randT(r, kk*70).F32()
					x := randT(r, kk*ld).F32()
					rankK(v, da, ld, c, 70, x, ld, nk, kk, hd)
					rankK(nil, db, ld, c, 70, x, ld, nk, kk, hd)
					closeTo(t, fmt.Sprintf("rankK(kk=%d)%s", kk, name), da, db, 1e-5)
				}
			}
		}
	}
}

// TestAccTile checks accTile, the tiled attention's value sums for a
// block of query rows, against sums in float64, for row counts that take
// the four-row assembly, the one-row path and both, head dimensions on
// the wide and narrow paths, and strided rows; the columns between the
// output rows are left alone.
func TestAccTile(t *testing.T) {
	r := newRand(18)
	for vname, v := range vecSetsAndGo() {
		for _, hd := range []int{8, 16, 48, 64, 80, 128} {
			for _, nk := range []int{1, 2, 7, 48, 65} {
				for _, rows := range []int{1, 3, 4, 5, 8, 9} {
					ldo, ldp, ldv := hd+5, nk+3, hd+16
					o := randT(r, rows*ldo).F32()
					p := randT(r, rows*ldp).F32()
					vr := randT(r, nk*ldv).F32()
					got := append([]float32(nil), o...)
					accTile(v, got, ldo, hd, rows, p, ldp, nk, vr, ldv)
					name := fmt.Sprintf("accTile %s(hd=%d nk=%d rows=%d)", vname, hd, nk, rows)
					for i := 0; i < rows; i++ {
						want := make([]float32, hd)
						for d := range want {
							s := float64(o[i*ldo+d])
							for j := 0; j < nk; j++ {
								s += float64(p[i*ldp+j]) * float64(vr[j*ldv+d])
							}
							want[d] = float32(s)
						}
						closeTo(t, fmt.Sprintf("%s row %d", name, i), got[i*ldo:i*ldo+hd], want, 1e-5)
						for d := hd; d < ldo && i < rows-1; d++ {
							if got[i*ldo+d] != o[i*ldo+d] {
								t.Fatalf("%s wrote column %d of row %d's stride", name, d, i)
							}
						}
					}
				}
			}
		}
	}
}

// TestSoftmaxTile checks softmaxTile, the tiled attention's online softmax
// step for a whole tile, bit for bit against vmax and vexp row by row with
// the same primitives, for rows whose shift is their own scaled max, the
// running max before (larger), or that max at -Inf, on the assembly's row
// lengths and others.
func TestSoftmaxTile(t *testing.T) {
	r := newRand(19)
	// the vector sets only: without them softmaxTile is the row-by-row
	// loop it is checked against; row lengths that are not a multiple of
	// the vectors take that loop too (the dispatch is what they check)
	for vname, v := range vecSets(t) {
		for _, n := range []int{1, 7, 16, 32, 48, 65} {
			for _, rows := range []int{1, 3, 8} {
				ldsc := n + 3
				sc := randT(r, rows*ldsc).F32()
				for i := range sc {
					sc[i] *= 4
				}
				m := make([]float32, rows)
				for i := range m {
					switch i % 3 {
					case 0:
						m[i] = negInf
					case 1:
						m[i] = 100 // above every scaled score: the shift
					default:
						m[i] = -100
					}
				}
				const scale = 0.7
				got := append([]float32(nil), sc...)
				mo, sums := make([]float32, rows), make([]float64, rows)
				softmaxTile(v, got, ldsc, rows, n, scale, m, mo, sums)
				name := fmt.Sprintf("softmaxTile %s(n=%d rows=%d)", vname, n, rows)
				for i := 0; i < rows; i++ {
					row := append([]float32(nil), sc[i*ldsc:i*ldsc+n]...)
					sh := max(m[i], vmax(v, row)*scale)
					sum := vexp(v, row, row, scale, sh)
					if mo[i] != sh || sums[i] != sum {
						t.Fatalf("%s row %d: shift %g sum %g, row by row %g %g", name, i, mo[i], sums[i], sh, sum)
					}
					for j, want := range row {
						if g := got[i*ldsc+j]; g != want {
							t.Fatalf("%s row %d [%d] = %g, row by row %g", name, i, j, g, want)
						}
					}
					if i%3 == 1 && mo[i] != 100 {
						t.Fatalf("%s row %d: shift %g, want the running max 100", name, i, mo[i])
					}
				}
			}
		}
	}
}

// vecSetsAndGo returns the CPU's vector primitives by kernel set, and nil
// (the Go loops) as "go".
func vecSetsAndGo() map[string]*vecSet {
	sets := map[string]*vecSet{"go": nil}
	for _, k := range availableKernels() {
		if k.vec != nil {
			sets[k.name] = k.vec
		}
	}
	return sets
}

// TestRankKFourRows: rankK through the four-row kernel (accTile4 with the
// weights' roles turned) gives the one-row kernel's sums bit for bit, for
// key counts around the groups of four, and leaves the columns between
// the rows alone.
func TestRankKFourRows(t *testing.T) {
	r := newRand(24)
	for vname, v := range vecSets(t) {
		if v.accTile4 == nil {
			continue
		}
		for _, hd := range []int{16, 48, 64, 80, 128} {
			for _, nk := range []int{1, 3, 4, 5, 8, 48, 49} {
				for _, kk := range []int{1, 3, 8} {
					ldd, ldc, ldx := hd+3, nk+5, hd+7
					d0 := randT(r, nk*ldd).F32()
					c := randT(r, kk*ldc).F32()
					x := randT(r, kk*ldx).F32()
					got := append([]float32(nil), d0...)
					rankK(v, got, ldd, c, ldc, x, ldx, nk, kk, hd)
					want := append([]float32(nil), d0...)
					v.rankK(&want[0], ldd, &c[0], ldc, &x[0], ldx, nk, kk, hd)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("rankK %s(hd=%d nk=%d kk=%d) [%d] = %g, one-row kernel %g", vname, hd, nk, kk, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// bf16Kernels returns the bf16 kernels of this CPU that have the tiled
// attention's value kernel, by kernel set, skipping when there are none.
func bf16Kernels(t *testing.T) map[string]*bf16Kernel {
	return bf16KernelsWith(t, "the tiled attention's value kernel", func(k *bf16Kernel) bool { return k.accTile4 != nil })
}

// bf16KernelsWith returns the bf16 kernels of this CPU that have what has
// checks for (named what), by kernel set, skipping when there are none.
func bf16KernelsWith(t *testing.T, what string, has func(*bf16Kernel) bool) map[string]*bf16Kernel {
	ks := map[string]*bf16Kernel{}
	for _, k := range availableKernels() {
		if k.bf16 != nil && has(k.bf16) {
			ks[k.name] = k.bf16
		}
	}
	if len(ks) == 0 {
		t.Skipf("no bf16 kernel with %s on this CPU (needs AVX512_BF16)", what)
	}
	return ks
}

// TestAccTileBF16 checks accTileBF16, the tiled attention's value sums over
// bf16 pairs of keys: the assembly bit for bit against the Go loop (which
// adds each pair's products in the instruction's order) and both against
// float64 sums, on awkward row counts, pair counts and strides, the columns
// between the output rows left alone.
func TestAccTileBF16(t *testing.T) {
	r := newRand(23)
	round := func(x []float32) []uint16 {
		h := make([]uint16, len(x))
		for i, f := range x {
			h[i] = tensor.F32ToBF16(f)
		}
		return h
	}
	for kname, kb := range bf16Kernels(t) {
		for _, hd := range []int{16, 48, 64, 80, 128} {
			for _, nq := range []int{1, 2, 7, 24, 33} {
				for _, rows := range []int{1, 3, 4, 5, 8, 9} {
					ldo, ldp, ldv := hd+5, 2*nq+6, 2*hd+32
					o := randT(r, rows*ldo).F32()
					p := round(randT(r, rows*ldp).F32())
					v := round(randT(r, nq*ldv).F32())
					got := append([]float32(nil), o...)
					accTileBF16(kb, got, ldo, hd, rows, p, ldp, nq, v, ldv)
					loop := append([]float32(nil), o...)
					accTileBF16(nil, loop, ldo, hd, rows, p, ldp, nq, v, ldv)
					name := fmt.Sprintf("accTileBF16 %s(hd=%d nq=%d rows=%d)", kname, hd, nq, rows)
					for i := 0; i < rows; i++ {
						want := make([]float32, hd)
						for d := range want {
							s := float64(o[i*ldo+d])
							for q := 0; q < nq; q++ {
								for c := 0; c < 2; c++ {
									s += float64(tensor.BF16ToF32(p[i*ldp+2*q+c])) * float64(tensor.BF16ToF32(v[q*ldv+2*d+c]))
								}
							}
							want[d] = float32(s)
						}
						closeTo(t, fmt.Sprintf("%s row %d", name, i), got[i*ldo:i*ldo+hd], want, 1e-5)
						for d := range ldo {
							if i < rows-1 || d < hd {
								if math.Float32bits(got[i*ldo+d]) != math.Float32bits(loop[i*ldo+d]) {
									t.Fatalf("%s row %d [%d] = %g, the Go loop %g", name, i, d, got[i*ldo+d], loop[i*ldo+d])
								}
							}
						}
						for d := hd; d < ldo && i < rows-1; d++ {
							if got[i*ldo+d] != o[i*ldo+d] {
								t.Fatalf("%s wrote column %d of row %d's stride", name, d, i)
							}
						}
					}
				}
			}
		}
	}
}

// TestRoundPairs checks roundPairs against F32ToBF16 element by element,
// with the zero that completes an odd row's last pair, the vector
// conversion's lengths and others.
func TestRoundPairs(t *testing.T) {
	r := newRand(24)
	kbs := bf16Kernels(t)
	kbs["go"] = nil
	for kname, kb := range kbs {
		for _, n := range []int{1, 7, 16, 31, 48} {
			rows, ldx, ldd := 3, n+5, n+7
			x := randT(r, rows*ldx).F32()
			dst := make([]uint16, rows*ldd)
			for i := range dst {
				dst[i] = 0xffff
			}
			roundPairs(kb, dst, ldd, x, ldx, rows, n)
			for i := 0; i < rows; i++ {
				for j := 0; j < ldd; j++ {
					want := uint16(0xffff)
					switch {
					case j < n:
						want = tensor.F32ToBF16(x[i*ldx+j])
					case j == n && n%2 == 1:
						want = 0
					}
					if dst[i*ldd+j] != want {
						t.Fatalf("roundPairs %s n=%d: row %d [%d] = %#x, want %#x", kname, n, i, j, dst[i*ldd+j], want)
					}
				}
			}
		}
	}
}

// TestSoftmaxTileBF16 checks softmaxTileBF16 bit for bit against
// softmaxTile followed by roundPairs with the same kernels (the
// probabilities rounded to bf16, a zero completing an odd row; both round
// subnormal exponentials to zero with the vector conversion), for running
// maxima below, above (every exponential subnormal or zero) and at -Inf, on
// the assembly's row lengths and others.
func TestSoftmaxTileBF16(t *testing.T) {
	r := newRand(25)
	vecs := map[string]*vecSet{}
	for _, k := range availableKernels() {
		vecs[k.name] = k.vec
	}
	for kname, kb := range bf16Kernels(t) {
		v := vecs[kname]
		for _, n := range []int{1, 7, 16, 32, 48, 65} {
			for _, rows := range []int{1, 3, 8} {
				ldsc, ldpb := n+3, n+9
				sc := randT(r, rows*ldsc).F32()
				for i := range sc {
					sc[i] *= 4
				}
				m := make([]float32, rows)
				for i := range m {
					m[i] = [3]float32{negInf, 100, -100}[i%3]
				}
				const scale = 0.7
				mo, sums := make([]float32, rows), make([]float64, rows)
				pb := make([]uint16, rows*ldpb)
				softmaxTileBF16(kb, v, append([]float32(nil), sc...), ldsc, rows, n, scale, m, mo, sums, pb, ldpb)
				want := append([]float32(nil), sc...)
				wmo, wsums := make([]float32, rows), make([]float64, rows)
				wpb := make([]uint16, rows*ldpb)
				softmaxTile(v, want, ldsc, rows, n, scale, m, wmo, wsums)
				roundPairs(kb, wpb, ldpb, want, ldsc, rows, n)
				name := fmt.Sprintf("softmaxTileBF16 %s(n=%d rows=%d)", kname, n, rows)
				for i := 0; i < rows; i++ {
					if mo[i] != wmo[i] || sums[i] != wsums[i] {
						t.Fatalf("%s row %d: shift %g sum %g, want %g %g", name, i, mo[i], sums[i], wmo[i], wsums[i])
					}
					for j := 0; j < ldpb; j++ {
						if pb[i*ldpb+j] != wpb[i*ldpb+j] {
							t.Fatalf("%s row %d [%d] = %#x, want %#x", name, i, j, pb[i*ldpb+j], wpb[i*ldpb+j])
						}
					}
				}
			}
		}
	}
}

// TestDSTile checks dsTile, the attention backward's P and dS for a tile,
// bit for bit against vexp and the Go loop row by row, with the log-sum-
// exps and D of rows at a stride, on the assembly's row lengths and others.
func TestDSTile(t *testing.T) {
	r := newRand(27)
	for vname, v := range vecSetsAndGo() {
		for _, n := range []int{1, 7, 16, 48, 65} {
			for _, rows := range []int{1, 3, 8} {
				ld, ldd := n+3, 3
				sc := randT(r, rows*ld).F32()
				dp := randT(r, rows*ld).F32()
				lse := randT(r, rows).F32()
				d := randT(r, rows*ldd).F32()
				for i := range lse {
					lse[i] = 2 + lse[i]
				}
				const scale = 0.7
				gs, gd := append([]float32(nil), sc...), append([]float32(nil), dp...)
				dsTile(v, gs, gd, ld, rows, n, scale, lse, d, ldd)
				name := fmt.Sprintf("dsTile %s(n=%d rows=%d)", vname, n, rows)
				for i := 0; i < rows; i++ {
					ws, wd := append([]float32(nil), sc[i*ld:i*ld+n]...), append([]float32(nil), dp[i*ld:i*ld+n]...)
					vexp(v, ws, ws, scale, lse[i])
					for j := range wd {
						wd[j] = ws[j] * (wd[j] - d[i*ldd]) * scale
					}
					for j := range ws {
						if math.Float32bits(gs[i*ld+j]) != math.Float32bits(ws[j]) || math.Float32bits(gd[i*ld+j]) != math.Float32bits(wd[j]) {
							t.Fatalf("%s row %d [%d]: P %g dS %g, row by row %g %g", name, i, j, gs[i*ld+j], gd[i*ld+j], ws[j], wd[j])
						}
						if want := math.Exp(scale*float64(sc[i*ld+j]) - float64(lse[i])); math.Abs(float64(gs[i*ld+j])-want) > 1e-6*want {
							t.Fatalf("%s row %d [%d]: P %g, want %g", name, i, j, gs[i*ld+j], want)
						}
					}
					for j := n; j < ld && i < rows-1; j++ {
						if gs[i*ld+j] != sc[i*ld+j] || gd[i*ld+j] != dp[i*ld+j] {
							t.Fatalf("%s wrote column %d of row %d's stride", name, j, i)
						}
					}
				}
			}
		}
	}
}
