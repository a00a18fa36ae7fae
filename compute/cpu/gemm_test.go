package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"hone/compute/ref"
	"hone/tensor"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xc0ffee)) }

// randT returns an F32 tensor of normal values.
func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.F32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(r.NormFloat64())
	}
	return t
}

// naive returns op(a)·op(b) (+ c0 when acc) in float64, and the sum of
// |op(a)|·|op(b)| per element (the scale of the rounding error).
func naive(a, b []float64, m, n, k int, ta, tb bool) (c, mag []float64) {
	c, mag = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, g float64
			for p := 0; p < k; p++ {
				x, y := a[i*k+p], b[p*n+j]
				if ta {
					x = a[p*m+i]
				}
				if tb {
					y = b[j*k+p]
				}
				s += x * y
				g += math.Abs(x * y)
			}
			c[i*n+j], mag[i*n+j] = s, g
		}
	}
	return c, mag
}

func to64(t *tensor.Tensor) []float64 {
	f := t.ToF32().F32()
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// bf16Round returns x rounded to bf16 in float64.
func bf16Round(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(tensor.BF16ToF32(tensor.F32ToBF16(float32(v))))
	}
	return out
}

// engines returns an engine for every kernel set this CPU runs, with 1 and
// 3 threads.
func engines(t testing.TB) []*Engine {
	var es []*Engine
	for _, k := range availableKernels() {
		for _, th := range []int{1, 3} {
			e := newWithKernels(th, k)
			t.Cleanup(e.Close)
			es = append(es, e)
		}
	}
	return es
}

// roundsA reports whether a product with a BF16 b rounds a to bf16: the
// bf16 mode, except in the unpacked few-row path where it has no bf16 row
// kernel (that takes b stored [n, k] with k a multiple of 32).
func roundsA(e *Engine, m, k int, tb bool) bool {
	v := e.kern.vec
	if m <= gemvRows && v != nil && v.dots != nil && v.dotsBF16 != nil && tb {
		return bf16DotKernel(&e.kern, k) != nil && k%32 == 0
	}
	return e.BF16Native()
}

var gemmSizes = [][3]int{ // m, n, k
	{1, 1, 1}, {1, 7, 3}, {7, 1, 5}, {1, 1000, 64}, {3, 77, 96}, {4, 300, 33}, {2, 2000, 64}, {7, 63, 65}, {65, 7, 63}, {9, 49, 2},
	{8, 48, 256}, {16, 96, 257}, {63, 65, 577}, {129, 200, 31}, {33, 577, 1},
	{5, 1000, 9}, {300, 20, 513}, {150, 70, 40},
	// few rows: a float32 B stored [k, n] read in place (several k blocks,
	// a partial last panel, two A panels)
	{12, 577, 800}, {8, 384, 385}, {8, 576, 256},
	// narrow products (LoRA's rank side), computed transposed
	{256, 8, 576}, {577, 16, 65}, {40, 3, 700}, {64, 16, 1}, {130, 16, 1536}, {20, 5, 32},
	// long k: split along k under TestMatMulRowBlocks's small budget
	{130, 40, 3001},
}

// TestMatMulRowBlocks runs the naive test with a packing budget so small
// that products are split into blocks of 64 rows, or along k when k is long.
func TestMatMulRowBlocks(t *testing.T) {
	defer func(v int) { packABytes = v }(packABytes)
	packABytes = 1
	TestMatMulNaive(t)
}

func TestMatMulNaive(t *testing.T) {
	r := newRand(1)
	for _, e := range engines(t) {
		for _, sz := range gemmSizes {
			m, n, k := sz[0], sz[1], sz[2]
			for _, bt := range []tensor.DType{tensor.F32, tensor.BF16} {
				for v := 0; v < 8; v++ {
					ta, tb, acc := v&1 != 0, v&2 != 0, v&4 != 0
					a := randT(r, m, k)
					if ta {
						a = randT(r, k, m)
					}
					b := randT(r, k, n)
					if tb {
						b = randT(r, n, k)
					}
					b = b.To(bt)
					c := randT(r, m, n)
					c0 := to64(c)
					a64, b64 := to64(a), to64(b)
					bf16Mode := bt == tensor.BF16 && roundsA(e, m, k, tb)
					if bf16Mode {
						a64 = bf16Round(a64)
					}
					want, mag := naive(a64, b64, m, n, k, ta, tb)
					e.MatMul(c, a, b, ta, tb, acc)
					// float32 accumulation of k terms: k ulps of the magnitude.
					name := fmt.Sprintf("%s MatMul(m=%d n=%d k=%d b=%v ta=%v tb=%v acc=%v)", e.Name(), m, n, k, bt, ta, tb, acc)
					checkNaive(t, name, c.F32(), want, mag, c0, acc, n, k)
				}
			}
		}
	}
}

// TestMatMulRef checks the engine against the reference engine, including
// the rounding of a to bf16 in the bf16 mode.
func TestMatMulRef(t *testing.T) {
	r := newRand(2)
	e := New(2)
	defer e.Close()
	for _, sz := range [][3]int{{64, 577, 300}, {577, 63, 129}, {1, 1000, 576}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, bt := range []tensor.DType{tensor.F32, tensor.BF16} {
			a, b := randT(r, m, k), randT(r, n, k).To(bt)
			got, want := tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, n)
			e.MatMul(got, a, b, false, true, false)
			ra := a
			if bt == tensor.BF16 && roundsA(e, m, k, true) {
				ra = a.To(tensor.BF16).To(tensor.F32)
			}
			ref.Engine{}.MatMul(want, ra, b, false, true, false)
			for i, w := range want.F32() {
				if d := math.Abs(float64(got.F32()[i] - w)); d > 1e-4*math.Sqrt(float64(k)) {
					t.Fatalf("MatMul(m=%d n=%d k=%d b=%v)[%d] = %g, want %g (ref)", m, n, k, bt, i, got.F32()[i], w)
				}
			}
		}
	}
}

func TestMatMulBadShapes(t *testing.T) {
	e := New(1)
	defer e.Close()
	f := func(shape ...int) *tensor.Tensor { return tensor.New(tensor.F32, shape...) }
	cases := []struct {
		name    string
		c, a, b *tensor.Tensor
		want    string
	}{
		{"rows", f(3, 4), f(2, 5), f(4, 5), "does not give 3 rows"},
		{"inner", f(3, 4), f(3, 5), f(4, 6), "is not 5 x 4"},
		{"dtype a", f(3, 4), tensor.New(tensor.BF16, 3, 5), f(4, 5), "want F32"},
		{"nil b", f(3, 4), f(3, 5), nil, "b is nil"},
	}
	for _, c := range cases {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, c.want) || !strings.HasPrefix(s, "cpu.MatMul") {
					t.Errorf("MatMul(%s) panicked with %v, want a cpu.MatMul message containing %q", c.name, r, c.want)
				}
			}()
			e.MatMul(c.c, c.a, c.b, false, true, false)
		}()
	}
	// An F16 b is handled by the reference engine.
	c, a, b := f(2, 3), randT(newRand(5), 2, 4), randT(newRand(6), 3, 4)
	want := f(2, 3)
	ref.Engine{}.MatMul(want, a, b, false, true, false)
	e.MatMul(c, a, b.To(tensor.F16), false, true, false)
	for i, w := range want.F32() {
		if d := math.Abs(float64(c.F32()[i] - w)); d > 1e-2 {
			t.Errorf("MatMul(F16 b)[%d] = %g, want %g", i, c.F32()[i], w)
		}
	}
}

// TestConcurrentUse runs products and attention from several goroutines on
// one engine and checks each against the same call made alone.
func TestConcurrentUse(t *testing.T) {
	e := New(2)
	defer e.Close()
	r := newRand(7)
	type job struct{ a, b, want *tensor.Tensor }
	var jobs []job
	for i := 0; i < 6; i++ {
		a, b := randT(r, 70+i, 300), randT(r, 90+i, 300)
		if i%2 == 1 {
			b = b.To(tensor.BF16)
		}
		want := tensor.New(tensor.F32, 70+i, 90+i)
		e.MatMul(want, a, b, false, true, false)
		jobs = append(jobs, job{a, b, want})
	}
	errs := make(chan string, len(jobs))
	for _, j := range jobs {
		go func() {
			for rep := 0; rep < 20; rep++ {
				got := tensor.New(tensor.F32, j.want.Shape...)
				e.MatMul(got, j.a, j.b, false, true, false)
				for i, w := range j.want.F32() {
					if got.F32()[i] != w {
						errs <- fmt.Sprintf("concurrent MatMul(%v, %v)[%d] = %g, want %g (alone)", j.a, j.b, i, got.F32()[i], w)
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for range jobs {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
