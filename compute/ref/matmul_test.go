package ref

import (
	"fmt"
	"testing"
)

// naiveMatMul is the definition: c[i,j] = Σ_p op(a)[i,p]·op(b)[p,j].
func naiveMatMul(a, b []float64, m, n, k int, ta, tb bool) []float64 {
	c := make([]float64, m*n)
	for i := range m {
		for j := range n {
			for p := range k {
				av, bv := a[i*k+p], b[p*n+j]
				if ta {
					av = a[p*m+i]
				}
				if tb {
					bv = b[j*k+p]
				}
				c[i*n+j] += av * bv
			}
		}
	}
	return c
}

func TestMatMulHand(t *testing.T) {
	// a = [[1 2 3] [4 5 6]], b = [[7 8] [9 10] [11 12]]: a·b = [[58 64] [139 154]].
	a := []float64{1, 2, 3, 4, 5, 6}
	aT := []float64{1, 4, 2, 5, 3, 6}
	b := []float64{7, 8, 9, 10, 11, 12}
	bT := []float64{7, 9, 11, 8, 10, 12}
	want := []float64{58, 64, 139, 154}
	tests := []struct {
		ta, tb bool
		a, b   []float64
	}{
		{false, false, a, b}, {true, false, aT, b}, {false, true, a, bT}, {true, true, aT, bT},
	}
	for _, tt := range tests {
		c := make([]float64, 4)
		MatMul(c, tt.a, tt.b, 2, 2, 3, tt.ta, tt.tb, false)
		closeTo(t, fmt.Sprintf("MatMul(ta=%v, tb=%v)", tt.ta, tt.tb), c, want, 0)
		// acc adds onto what is there.
		MatMul(c, tt.a, tt.b, 2, 2, 3, tt.ta, tt.tb, true)
		closeTo(t, fmt.Sprintf("MatMul(ta=%v, tb=%v, acc) twice", tt.ta, tt.tb), c, []float64{116, 128, 278, 308}, 0)
	}
}

func TestMatMulNaive(t *testing.T) {
	r := newRand(1)
	// 67 and 130 rows cross the blockRows boundary.
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {67, 3, 5}, {2, 130, 9}, {130, 2, 1}, {5, 1, 17}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b := randn(r, m*k), randn(r, k*n)
				c := randn(r, m*n)
				c0 := append([]float64(nil), c...)
				want := naiveMatMul(a, b, m, n, k, ta, tb)
				MatMul(c, a, b, m, n, k, ta, tb, false)
				name := fmt.Sprintf("MatMul(m=%d n=%d k=%d ta=%v tb=%v)", m, n, k, ta, tb)
				closeTo(t, name, c, want, 1e-14)
				copy(c, c0)
				MatMul(c, a, b, m, n, k, ta, tb, true)
				for i := range want {
					want[i] += c0[i]
				}
				closeTo(t, name+" acc", c, want, 1e-14)
			}
		}
	}
}

// TestMatMulGrad checks the backward of c = op(a)·op(b), written as two more
// MatMul calls for each of the four layouts, against finite differences.
func TestMatMulGrad(t *testing.T) {
	r := newRand(2)
	for _, sz := range [][3]int{{3, 5, 7}, {1, 1, 1}, {66, 2, 3}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				name := fmt.Sprintf("MatMul(m=%d n=%d k=%d ta=%v tb=%v)", m, n, k, ta, tb)
				a, b, proj := randn(r, m*k), randn(r, k*n), randn(r, m*n)
				c := make([]float64, m*n)
				loss := func() float64 {
					MatMul(c, a, b, m, n, k, ta, tb, false)
					return project(proj, c)
				}
				da, db := make([]float64, m*k), make([]float64, k*n)
				backward := func() {
					// d op(a) = dc·op(b)ᵀ and d op(b) = op(a)ᵀ·dc, stored as a and b are.
					if ta {
						MatMul(da, b, proj, k, m, n, tb, true, true)
					} else {
						MatMul(da, proj, b, m, k, n, false, !tb, true)
					}
					if tb {
						MatMul(db, proj, a, n, k, m, true, ta, true)
					} else {
						MatMul(db, a, proj, k, n, m, !ta, false, true)
					}
				}
				backward()
				checkGrad(t, name+" da", a, da, loss, false)
				checkGrad(t, name+" db", b, db, loss, false)
			}
		}
	}
}

func TestAddBias(t *testing.T) {
	y := []float64{1, 2, 3, 4, 5, 6}
	AddBias(y, []float64{10, 20, 30}, 2, 3)
	closeTo(t, "AddBias", y, []float64{11, 22, 33, 14, 25, 36}, 0)
	db := []float64{1, 1, 1}
	AddBiasBackward(db, []float64{1, 2, 3, 4, 5, 6}, 2, 3)
	closeTo(t, "AddBiasBackward", db, []float64{6, 8, 10}, 0)

	r := newRand(3)
	m, n := 5, 7
	x, bias, proj := randn(r, m*n), randn(r, n), randn(r, m*n)
	out := make([]float64, m*n)
	loss := func() float64 {
		copy(out, x)
		AddBias(out, bias, m, n)
		return project(proj, out)
	}
	dbias := make([]float64, n)
	backward := func() { AddBiasBackward(dbias, proj, m, n) }
	backward()
	checkGrad(t, "AddBias dbias", bias, dbias, loss, false)
	checkAccum(t, "AddBiasBackward", backward, dbias)
}

func TestMatMulPanics(t *testing.T) {
	mustPanic(t, "MatMul short b", "ref.MatMul: b has 5 elements", func() {
		MatMul(make([]float64, 4), make([]float64, 6), make([]float64, 5), 2, 2, 3, false, false, false)
	})
	mustPanic(t, "MatMul short c", "ref.MatMul: c has 3 elements", func() {
		MatMul(make([]float64, 3), make([]float64, 6), make([]float64, 6), 2, 2, 3, false, false, false)
	})
}
