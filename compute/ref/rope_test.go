package ref

import (
	"fmt"
	"math"
	"testing"
)

func TestRoPEHand(t *testing.T) {
	// hd = 4: the pairs are (x0, x2) at frequency 1 and (x1, x3) at
	// frequency 1/sqrt(theta); use angles 0.5 and 0.25 directly.
	cos := []float64{1, 1, math.Cos(0.5), math.Cos(0.25)}
	sin := []float64{0, 0, math.Sin(0.5), math.Sin(0.25)}
	x := []float64{
		1, 2, 3, 4, // position 0: unchanged
		1, 2, 3, 4, // position 1
	}
	RoPE(x, []int32{0, 1}, 1, 4, cos, sin)
	c1, s1, c2, s2 := math.Cos(0.5), math.Sin(0.5), math.Cos(0.25), math.Sin(0.25)
	closeTo(t, "RoPE(hd=4)", x, []float64{
		1, 2, 3, 4,
		1*c1 - 3*s1, 2*c2 - 4*s2, 3*c1 + 1*s1, 4*c2 + 2*s2,
	}, 1e-15)

	// The default table with theta 10000: position p rotates the first pair
	// by p radians, so [1, 0] at position 2 becomes [cos 2, sin 2].
	ct, st := ropeTables[float64](4, 2, 10000)
	y := []float64{1, 0, 0, 1}
	RoPE(y, []int32{2, 3}, 1, 2, ct, st)
	closeTo(t, "RoPE(theta 10000, hd 2)", y, []float64{math.Cos(2), math.Sin(2), -math.Sin(3), math.Cos(3)}, 1e-15)
}

// TestRoPEComplex checks RoPE against its complex-number definition: pair
// (x1[j], x2[j]) times e^{i·angle_j}, for every head.
func TestRoPEComplex(t *testing.T) {
	r := newRand(6)
	for _, hd := range []int{2, 6, 10} {
		heads, maxPos := 3, 9
		pos := []int32{8, 0, 3, 3, 5}
		cos, sin := ropeTables[float64](maxPos, hd, 10000)
		x := randn(r, len(pos)*heads*hd)
		want := make([]float64, len(x))
		half := hd / 2
		for i, p := range pos {
			for h := range heads {
				o := (i*heads + h) * hd
				for j := range half {
					a := float64(p) / math.Pow(10000, float64(2*j)/float64(hd))
					z := complex(x[o+j], x[o+half+j]) * complex(math.Cos(a), math.Sin(a))
					want[o+j], want[o+half+j] = real(z), imag(z)
				}
			}
		}
		got := append([]float64(nil), x...)
		RoPE(got, pos, heads, hd, cos, sin)
		closeTo(t, fmt.Sprintf("RoPE(hd=%d)", hd), got, want, 1e-14)
		// The backward rotates back: it is the inverse of the forward.
		RoPEBackward(got, pos, heads, hd, cos, sin)
		closeTo(t, fmt.Sprintf("RoPEBackward(RoPE(x), hd=%d)", hd), got, x, 1e-14)
	}
}

func TestRoPEGrad(t *testing.T) {
	r := newRand(7)
	for _, hd := range []int{2, 6, 10} {
		heads, maxPos := 2, 12
		pos := []int32{11, 0, 4, 7}
		cos, sin := ropeTables[float64](maxPos, hd, 10000)
		x, proj := randn(r, len(pos)*heads*hd), randn(r, len(pos)*heads*hd)
		out := make([]float64, len(x))
		loss := func() float64 {
			copy(out, x)
			RoPE(out, pos, heads, hd, cos, sin)
			return project(proj, out)
		}
		dx := append([]float64(nil), proj...)
		RoPEBackward(dx, pos, heads, hd, cos, sin)
		checkGrad(t, fmt.Sprintf("RoPE(hd=%d) dx", hd), x, dx, loss, false)
	}
}

func TestRoPEPanics(t *testing.T) {
	cos, sin := ropeTables[float64](4, 6, 10000)
	mustPanic(t, "RoPE position beyond the table", "pos[1] = 4", func() {
		RoPE(make([]float64, 12), []int32{0, 4}, 1, 6, cos, sin)
	})
	mustPanic(t, "RoPE odd head dim", "head dim 5", func() {
		RoPE(make([]float64, 10), []int32{0, 1}, 1, 5, cos, sin)
	})
	mustPanic(t, "RoPE wrong x size", "x has 11 elements", func() {
		RoPE(make([]float64, 11), []int32{0, 1}, 1, 6, cos, sin)
	})
}
