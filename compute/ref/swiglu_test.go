package ref

import (
	"math"
	"testing"
)

func TestSwiGLUHand(t *testing.T) {
	sig1 := 1 / (1 + math.Exp(-1))
	tests := []struct{ g, u, want float64 }{
		{0, 5, 0},
		{1, 1, sig1},
		{-1, 2, -2 * (1 - sig1)}, // silu(-1) = -sigmoid(-1) = -(1-sigmoid(1))
		{40, 0.5, 20},            // silu(g) -> g for large g
		{-40, 3, -120 / (1 + math.Exp(40))},
	}
	for _, tt := range tests {
		out := []float64{0}
		SwiGLU(out, []float64{tt.g}, []float64{tt.u})
		if math.Abs(out[0]-tt.want) > 1e-15*max(1, math.Abs(tt.want)) {
			t.Errorf("SwiGLU(%v, %v) = %.17g, want %.17g", tt.g, tt.u, out[0], tt.want)
		}
	}
	// out may alias gate.
	g := []float64{1, 0}
	SwiGLU(g, g, []float64{2, 3})
	closeTo(t, "SwiGLU(out aliases gate)", g, []float64{2 * sig1, 0}, 1e-15)
}

func TestSwiGLUGrad(t *testing.T) {
	r := newRand(8)
	n := 37
	gate, up, proj := uniform(r, n, -6, 6), randn(r, n), randn(r, n)
	out := make([]float64, n)
	loss := func() float64 {
		SwiGLU(out, gate, up)
		return project(proj, out)
	}
	dg, du := make([]float64, n), make([]float64, n)
	backward := func() { SwiGLUBackward(dg, du, proj, gate, up) }
	backward()
	checkGrad(t, "SwiGLU dgate", gate, dg, loss, false)
	checkGrad(t, "SwiGLU dup", up, du, loss, false)
	checkAccum(t, "SwiGLUBackward", backward, dg, du)

	want := oneCall(dg, backward)
	dg2 := make([]float64, n)
	SwiGLUBackward(dg2, nil, proj, gate, up)
	closeTo(t, "SwiGLUBackward(dup nil) dgate", dg2, want, 0)
	want = oneCall(du, backward)
	du2 := make([]float64, n)
	SwiGLUBackward(nil, du2, proj, gate, up)
	closeTo(t, "SwiGLUBackward(dgate nil) dup", du2, want, 0)
}
