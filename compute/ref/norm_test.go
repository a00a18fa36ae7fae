package ref

import (
	"fmt"
	"math"
	"testing"
)

func TestRMSNormHand(t *testing.T) {
	// Rows chosen so that mean(x²) is a perfect square: 4, 1, 25/4.
	x := []float64{
		2, 2, 2, 2,
		1, -1, 1, -1,
		0, 0, 3, 4,
	}
	w := []float64{1, 2, 0.5, -1}
	out, rstd := make([]float64, 12), make([]float64, 3)
	RMSNorm(out, x, w, 3, 4, 0, rstd)
	closeTo(t, "RMSNorm([3,4]) rstd", rstd, []float64{0.5, 1, 0.4}, 1e-15)
	closeTo(t, "RMSNorm([3,4])", out, []float64{
		1, 2, 0.5, -1,
		1, -2, 0.5, 1,
		0, 0, 0.6, -1.6,
	}, 1e-15)

	// A zero row normalises to zero with rstd = 1/sqrt(eps); eps is added
	// inside the square root.
	z := make([]float64, 3)
	RMSNorm(z, []float64{0, 0, 0}, []float64{1, 1, 1}, 1, 3, 1e-6, rstd[:1])
	closeTo(t, "RMSNorm(zero row) rstd", rstd[:1], []float64{1000}, 1e-12)
	closeTo(t, "RMSNorm(zero row)", z, []float64{0, 0, 0}, 0)
	RMSNorm(z, []float64{3, 4, 0}, []float64{1, 1, 1}, 1, 3, 1, rstd[:1])
	closeTo(t, "RMSNorm([3 4 0], eps 1) rstd", rstd[:1], []float64{1 / math.Sqrt(25.0/3+1)}, 1e-15)

	// Without rstd the output is the same.
	out2 := make([]float64, 12)
	RMSNorm(out2, x, w, 3, 4, 0, nil)
	closeTo(t, "RMSNorm(rstd nil)", out2, to64(out), 0)
}

// TestRMSNormFloat32Rounding checks the float32 path rounds x·rstd before
// multiplying by w, as transformers does (weight * hidden.to(dtype)).
func TestRMSNormFloat32Rounding(t *testing.T) {
	r := newRand(4)
	n, d := 4, 9
	x, w := to32(randn(r, n*d)), to32(randn(r, d))
	out, rstd := make([]float32, n*d), make([]float32, n)
	RMSNorm(out, x, w, n, d, 1e-5, rstd)
	for i := range n {
		var ss float64
		for _, v := range x[i*d : (i+1)*d] {
			ss += float64(v) * float64(v)
		}
		rs := float32(1 / math.Sqrt(float64(float32(ss/float64(d))+1e-5)))
		if rstd[i] != rs {
			t.Errorf("RMSNorm rstd[%d] = %v, want %v", i, rstd[i], rs)
		}
		for j := range d {
			if want := w[j] * (x[i*d+j] * rs); out[i*d+j] != want {
				t.Errorf("RMSNorm out[%d,%d] = %v, want %v", i, j, out[i*d+j], want)
			}
		}
	}
}

func TestRMSNormGrad(t *testing.T) {
	r := newRand(5)
	for _, sz := range [][2]int{{3, 5}, {1, 1}, {2, 10}, {4, 6}} {
		n, d := sz[0], sz[1]
		for _, eps := range []float64{1e-6, 0.3} {
			name := fmt.Sprintf("RMSNorm(n=%d d=%d eps=%g)", n, d, eps)
			x, w, proj := randn(r, n*d), randn(r, d), randn(r, n*d)
			out, rstd := make([]float64, n*d), make([]float64, n)
			loss := func() float64 {
				RMSNorm(out, x, w, n, d, eps, rstd)
				return project(proj, out)
			}
			loss()
			dx, dw := make([]float64, n*d), make([]float64, d)
			backward := func() { RMSNormBackward(dx, dw, proj, x, w, rstd, n, d) }
			backward()
			checkGrad(t, name+" dx", x, dx, loss, d == 1 && eps < 1e-3)
			checkGrad(t, name+" dw", w, dw, loss, false)
			loss() // restore rstd for x
			checkAccum(t, name, backward, dx, dw)

			// Either gradient may be skipped without changing the other.
			dx2 := make([]float64, n*d)
			RMSNormBackward(dx2, nil, proj, x, w, rstd, n, d)
			closeTo(t, name+" dx with dw nil", dx2, oneCall(dx, backward), 0)
			dw2 := make([]float64, d)
			RMSNormBackward(nil, dw2, proj, x, w, rstd, n, d)
			clear(dw)
			RMSNormBackward(nil, dw, proj, x, w, rstd, n, d)
			closeTo(t, name+" dw with dx nil", dw2, dw, 0)
		}
	}
}

// oneCall returns what one call of backward adds to g (from zero).
func oneCall(g []float64, backward func()) []float64 {
	clear(g)
	backward()
	return append([]float64(nil), g...)
}
