package cpu

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/internal/race"
	"hone/tensor"
)

// checkClose fails unless got matches want (float64) within k+4 float32
// ulps of the magnitude mag of each element.
func checkClose(t *testing.T, name string, got []float32, want, mag []float64, k int) {
	t.Helper()
	tol := 1e-6 * float64(k+4)
	for i, w := range want {
		bound := tol * (mag[i] + math.Abs(w) + 1e-30)
		if d := math.Abs(float64(got[i]) - w); !(d <= bound) {
			t.Fatalf("%s[%d] = %g, want %g (|diff| %.3g > %.3g)", name, i, got[i], w, d, bound)
		}
	}
}

// TestGemvRowKernel checks the bf16 row kernels alone against a plain
// loop in float64: every row count, row strides longer than k, column
// counts with every tail of the 128-column steps and every mix of the dot
// kernel's blocks of 64, 16, 4 and 1 cache lines (k=2720 has one of each,
// 8224 four of 64 and one of 1), and accumulation; every dot kernel that
// takes rows in equal blocks (gemvDotBlocked) on the same sizes, most of
// which leave it single lines at the end of a row. The dot kernels'
// activations are rounded to bf16, and so are the reference's.
func TestGemvRowKernel(t *testing.T) {
	e := New(1)
	defer e.Close()
	kern := bf16RowKernel(&e.kern)
	if kern == nil {
		t.Skip("no bf16 row kernel on this CPU")
	}
	var dots []namedDotKernel
	if bf16DotKernel(&e.kern, 576) != nil {
		dots = dotKernels()
	}
	r := newRand(3)
	for _, k := range []int{32, 64, 96, 128, 160, 224, 576, 896, 960, 1536, 2048, 2720, 8224} {
		for _, nr := range []int{1, 2, 3, 4, 5, 7, 8, 63, 65} {
			for _, pad := range []int{0, 16, 33} {
				for acc := 0; acc < 2; acc++ {
					ld := k + pad
					w := randT(r, nr, ld).To(tensor.BF16)
					q := randT(r, 1, k).F32()
					out := randT(r, 1, nr).F32()
					out0 := append([]float32(nil), out...)
					wv := w.ToF32().F32()
					want, mag := rowProducts(q, wv, out0, ld, nr, acc == 1)
					qp := make([]float32, k)
					permuteEvenOdd(qp, q)
					kern(&out[0], &qp[0], &w.BF16()[0], ld, nr, k, acc)
					checkClose(t, fmt.Sprintf("gemvBF16(k=%d nr=%d ld=%d acc=%d)", k, nr, ld, acc), out, want, mag, k)
					if len(dots) == 0 {
						continue
					}
					qh := tensor.FromF32(q, k).To(tensor.BF16)
					want, mag = rowProducts(qh.ToF32().F32(), wv, out0, ld, nr, acc == 1)
					for _, d := range dots {
						copy(out, out0)
						d.f(&out[0], &qh.BF16()[0], &w.BF16()[0], ld, nr, k, acc)
						checkClose(t, fmt.Sprintf("%s(k=%d nr=%d ld=%d acc=%d)", d.name, k, nr, ld, acc), out, want, mag, k)
					}
				}
			}
		}
	}
}

// namedDotKernel is a dot row kernel and its name (dotKernels lists them
// where the CPU build has them).
type namedDotKernel struct {
	name string
	f    gemvDotKernel
}

// rowProducts returns, in float64, q·w[j*ld : j*ld+len(q)] for j < nr
// (plus out[j] when acc is set) and the sums of the terms' magnitudes.
func rowProducts(q, w, out []float32, ld, nr int, acc bool) (want, mag []float64) {
	want, mag = make([]float64, nr), make([]float64, nr)
	for j := range want {
		if acc {
			want[j] = float64(out[j])
			mag[j] = math.Abs(want[j])
		}
		for p, qv := range q {
			x := float64(qv) * float64(w[j*ld+p])
			want[j] += x
			mag[j] += math.Abs(x)
		}
	}
	return want, mag
}

// TestMatMulShared checks MatMulShared against the reference engine's
// MatMul for every weight, with weights of different heights (none a
// multiple of the chunks), bf16 and float32, and a few rows of a.
func TestMatMulShared(t *testing.T) {
	r := newRand(4)
	re := ref.Engine{}
	for _, e := range engines(t) {
		for _, k := range []int{1, 7, 32, 63, 65, 576, 577} {
			for _, m := range []int{1, 2, 4, 5} {
				for _, dt := range []tensor.DType{tensor.BF16, tensor.F32} {
					ns := []int{577, 1, 63, 2000, 65}
					a := randT(r, m, k)
					var bs, cs, want []*tensor.Tensor
					for _, n := range ns {
						bs = append(bs, randT(r, n, k).To(dt))
						cs = append(cs, randT(r, m, n)) // overwritten
						want = append(want, tensor.New(tensor.F32, m, n))
					}
					e.MatMulShared(cs, a, bs)
					for i := range bs {
						// without the bf16 row kernel the few-row path
						// multiplies a in float32 by the widened weights:
						// so does the reference
						re.MatMul(want[i], a, bs[i].ToF32(), false, true, false)
						if dt == tensor.BF16 && roundsA(e, m, k, true) {
							// the bf16 mode rounds a
							ab := a.To(tensor.BF16).ToF32()
							re.MatMul(want[i], ab, bs[i].ToF32(), false, true, false)
						}
						_, mag := naive(to64(a), to64(bs[i]), m, ns[i], k, false, true)
						checkClose(t, fmt.Sprintf("%s MatMulShared(m=%d k=%d %v)[%d]", e.Name(), m, k, dt, i),
							cs[i].F32(), to64(want[i]), mag, k)
					}
				}
			}
		}
	}
}

// TestMatMulSharedFallback checks compute.MatMulShared on an engine
// without the capability.
func TestMatMulSharedFallback(t *testing.T) {
	r := newRand(5)
	re := ref.Engine{}
	a := randT(r, 1, 65)
	bs := []*tensor.Tensor{randT(r, 7, 65), randT(r, 3, 65)}
	cs := []*tensor.Tensor{tensor.New(tensor.F32, 1, 7), tensor.New(tensor.F32, 1, 3)}
	compute.MatMulShared(re, cs, a, bs)
	e := New(2)
	defer e.Close()
	for i := range bs {
		want := tensor.New(tensor.F32, 1, bs[i].Rows())
		e.MatMul(want, a, bs[i], false, true, false)
		_, mag := naive(to64(a), to64(bs[i]), 1, bs[i].Rows(), 65, false, true)
		checkClose(t, "fallback", cs[i].F32(), to64(want), mag, 65)
	}
}

// TestGemvNoGarbage checks that a few-row product allocates nothing once
// warm.
func TestGemvNoGarbage(t *testing.T) {
	r := newRand(6)
	e := New(2)
	defer e.Close()
	a := randT(r, 1, 576)
	bs := []*tensor.Tensor{randT(r, 576, 576).To(tensor.BF16), randT(r, 192, 576).To(tensor.BF16)}
	cs := []*tensor.Tensor{tensor.New(tensor.F32, 1, 576), tensor.New(tensor.F32, 1, 192)}
	if !e.gemvFits(1, bs[0], true) {
		t.Skip("no few-row path on this engine (no vector primitives)")
	}
	if race.Enabled {
		t.Skip("the race detector's sync.Pool drops buffers: allocations are not counted")
	}
	g, u, out := randT(r, 1536, 576).To(tensor.BF16), randT(r, 1536, 576).To(tensor.BF16), tensor.New(tensor.F32, 1, 1536)
	e.MatMulShared(cs, a, bs)
	e.MatMulSwiGLU(out, a, g, u)
	if n := testing.AllocsPerRun(50, func() { e.MatMulShared(cs, a, bs) }); n != 0 {
		t.Errorf("MatMulShared allocates %.1f times a call, want 0", n)
	}
	if n := testing.AllocsPerRun(50, func() { e.MatMulSwiGLU(out, a, g, u) }); n != 0 {
		t.Errorf("MatMulSwiGLU allocates %.1f times a call, want 0", n)
	}
}

// TestMatMulSwiGLU checks the few-row pass of gate and up and its
// activation against the reference engine's two products and SwiGLU, on
// awkward heights (none a multiple of the chunks) and widths, bf16 and float32, a few rows of a and more.
func TestMatMulSwiGLU(t *testing.T) {
	r := newRand(7)
	re := ref.Engine{}
	for _, e := range engines(t) {
		for _, k := range []int{1, 32, 63, 576} {
			for _, n := range []int{1, 7, 17, 577, 1536} {
				for _, m := range []int{1, 3, 5} {
					for _, dt := range []tensor.DType{tensor.BF16, tensor.F32} {
						a := randT(r, m, k)
						gate, up := randT(r, n, k).To(dt), randT(r, n, k).To(dt)
						out := randT(r, m, n)
						e.MatMulSwiGLU(out, a, gate, up)
						ar := a
						if dt == tensor.BF16 && roundsA(e, m, k, true) {
							ar = a.To(tensor.BF16).ToF32() // the bf16 mode
						}
						g, u, want := tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, n)
						re.MatMul(g, ar, gate.ToF32(), false, true, false)
						re.MatMul(u, ar, up.ToF32(), false, true, false)
						re.SwiGLU(want, g, u)
						// the products' rounding, carried through silu(g)*u
						_, mg := naive(to64(a), to64(gate), m, n, k, false, true)
						_, mu := naive(to64(a), to64(up), m, n, k, false, true)
						mag := make([]float64, m*n)
						for i := range mag {
							gi, ui := math.Abs(float64(g.F32()[i])), math.Abs(float64(u.F32()[i]))
							mag[i] = 2*(mg[i]*ui+mu[i]*gi) + 1e-6
						}
						checkClose(t, fmt.Sprintf("%s MatMulSwiGLU(m=%d n=%d k=%d %v)", e.Name(), m, n, k, dt), out.F32(), to64(want), mag, k)
					}
				}
			}
		}
	}
	// the fallback of engines without the capability
	a, gate, up := randT(r, 2, 65), randT(r, 9, 65), randT(r, 9, 65)
	got, want := tensor.New(tensor.F32, 2, 9), tensor.New(tensor.F32, 2, 9)
	compute.MatMulSwiGLU(re, got, a, gate, up, tensor.New(tensor.F32, 2, 9), tensor.New(tensor.F32, 2, 9))
	e := New(1)
	defer e.Close()
	e.MatMulSwiGLU(want, a, gate, up)
	for i, w := range want.F32() {
		if d := math.Abs(float64(got.F32()[i] - w)); d > 1e-4*(1+math.Abs(float64(w))) {
			t.Fatalf("compute.MatMulSwiGLU fallback [%d] = %g, want %g", i, got.F32()[i], w)
		}
	}
}
