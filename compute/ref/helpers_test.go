package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"hone/tensor"
)

// newRand returns a deterministic generator for a test.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randn returns n standard normal values.
func randn(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// uniform returns n values uniform in [lo, hi).
func uniform(r *rand.Rand, n int, lo, hi float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float64()
	}
	return x
}

// project returns Σ r_i·out_i, the random projection that turns an op's
// output into a scalar loss whose gradient with respect to out is r.
func project(r, out []float64) float64 {
	var s float64
	for i, v := range out {
		s += r[i] * v
	}
	return s
}

// numGrad returns the central finite-difference gradient of loss with
// respect to x, which loss reads; x is restored afterwards.
func numGrad(x []float64, loss func() float64) []float64 {
	g := make([]float64, len(x))
	for i, old := range x {
		h := 1e-5 * max(1, math.Abs(old))
		xp, xm := old+h, old-h
		x[i] = xp
		lp := loss()
		x[i] = xm
		lm := loss()
		x[i] = old
		g[i] = (lp - lm) / (xp - xm)
	}
	return g
}

// gradTol is the relative error allowed between an analytic gradient and
// central finite differences in float64.
const gradTol = 1e-6

// relErr returns the largest elementwise difference of got and want relative
// to the largest magnitude in want (the normwise, infinity-norm relative
// error); 0 when both are zero.
func relErr(got, want []float64) float64 {
	var diff, scale float64
	for i := range want {
		diff = max(diff, math.Abs(got[i]-want[i]))
		scale = max(scale, math.Abs(want[i]))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

// checkGrad compares the analytic gradient got of loss with respect to x with
// central finite differences. Unless zeroOK, a gradient that is zero
// everywhere fails too, since it would make the comparison vacuous.
func checkGrad(t *testing.T, name string, x, got []float64, loss func() float64, zeroOK bool) {
	t.Helper()
	want := numGrad(x, loss)
	if e := relErr(got, want); e > gradTol || math.IsNaN(e) {
		i := worst(got, want)
		t.Errorf("%s: gradient rel err = %.3g, want <= %g (worst [%d]: analytic %.12g, numeric %.12g)", name, e, gradTol, i, got[i], want[i])
	}
	if !zeroOK && maxAbs(want) == 0 {
		t.Errorf("%s: numeric gradient is zero everywhere; the check is vacuous", name)
	}
}

// checkAccum checks that backward accumulates into grads: starting from
// random values g0, two calls must give g0 + 2·g1 where g1 is what one call
// adds to zeros.
func checkAccum(t *testing.T, name string, backward func(), grads ...[]float64) {
	t.Helper()
	r := newRand(99)
	for _, g := range grads {
		clear(g)
	}
	backward()
	once := make([][]float64, len(grads))
	g0 := make([][]float64, len(grads))
	for i, g := range grads {
		once[i] = append([]float64(nil), g...)
		g0[i] = randn(r, len(g))
		copy(g, g0[i])
	}
	backward()
	backward()
	for i, g := range grads {
		want := make([]float64, len(g))
		for j := range want {
			want[j] = g0[i][j] + 2*once[i][j]
		}
		if e := relErr(g, want); e > 1e-12 {
			t.Errorf("%s: gradient %d after two backward calls on g0: rel err %.3g from g0 + 2·(one call), want accumulation", name, i, e)
		}
		if maxAbs(once[i]) == 0 {
			t.Errorf("%s: gradient %d is zero after one backward call", name, i)
		}
	}
}

func worst(got, want []float64) int {
	w, d := 0, -1.0
	for i := range want {
		if e := math.Abs(got[i] - want[i]); e > d || math.IsNaN(e) {
			w, d = i, e
		}
	}
	return w
}

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// closeTo fails unless got and want agree within tol (relative to want's
// largest magnitude, and absolutely when want is all zeros).
func closeTo[F Float](t *testing.T, name string, got []F, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", name, len(got), len(want))
	}
	g := to64(got)
	if e := relErr(g, want); e > tol || math.IsNaN(e) {
		i := worst(g, want)
		t.Errorf("%s: rel err %.3g, want <= %g (worst [%d] = %.9g, want %.9g)", name, e, tol, i, g[i], want[i])
	}
}

func to64[F Float](x []F) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// roundBF16 rounds every value to the nearest bfloat16, returning the raw
// halves and their exact values.
func roundBF16(x []float64) ([]uint16, []float64) {
	h := make([]uint16, len(x))
	v := make([]float64, len(x))
	for i, f := range x {
		h[i] = tensor.F32ToBF16(float32(f))
		v[i] = float64(tensor.BF16ToF32(h[i]))
	}
	return h, v
}

// f32Tensor returns x rounded to float32 as a tensor of the given shape.
func f32Tensor(x []float64, shape ...int) *tensor.Tensor {
	return tensor.FromF32(to32(x), shape...)
}

// ropeTables builds cos and sin [maxPos, hd/2] as transformers' default
// rotary embedding does: angle(p, i) = p / theta^(2i/hd).
func ropeTables[F Float](maxPos, hd int, theta float64) (cos, sin []F) {
	half := hd / 2
	cos, sin = make([]F, maxPos*half), make([]F, maxPos*half)
	for p := range maxPos {
		for i := range half {
			a := float64(p) / math.Pow(theta, float64(2*i)/float64(hd))
			cos[p*half+i], sin[p*half+i] = F(math.Cos(a)), F(math.Sin(a))
		}
	}
	return cos, sin
}

// mustPanic fails unless f panics with a message containing want.
func mustPanic(t *testing.T, name, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: did not panic, want a panic mentioning %q", name, want)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Errorf("%s: panic %q, want it to mention %q", name, msg, want)
		}
	}()
	f()
}
