//go:build amd64 && !purego

package cpu

import "math"

//go:noescape
func mulAVX512(dst, a, b *float32, n int, s float32)

//go:noescape
func siluMulAVX512(out, gate, u, e *float32, n int)

//go:noescape
func siluBackAVX512(dg, du, dout, gate, u, e *float32, n int)

// siluFns returns the vector SwiGLU kernels for the vector set v (the
// AVX-512 one), or nils.
func siluFns(v *vecSet) (fwd func(out, g, u, e *float32, n int), back func(dg, du, dout, g, u, e *float32, n int)) {
	if v != nil && v == vec512 {
		return siluMulAVX512, siluBackAVX512
	}
	return nil, nil
}

// expTail is vexp for the last n < 16 elements through the AVX-512
// kernel (padded, on the stack) rather than math.Exp one by one: an
// attention tile's visible keys and SwiGLU's rows end anywhere. It reports
// false when v is not the AVX-512 set.
func expTail(v *vecSet, dst, x []float32, scale, shift float32) (float64, bool) {
	n := len(x)
	if v != vec512 || n == 0 || n >= 16 {
		return 0, v == vec512 && n == 0
	}
	// pad with the argument's -Inf (exp 0); with scale 0 every element is
	// exp(-shift), and the padding's share is taken off the sum
	pad := float32(math.Inf(-1))
	if scale < 0 {
		pad = float32(math.Inf(1))
	}
	var in, out [16]float32
	copy(in[:], x)
	for i := n; i < 16; i++ {
		in[i] = pad
	}
	s := expAVX512(&out[0], &in[0], 16, scale, shift)
	copy(dst, out[:n])
	for _, e := range out[n:] {
		s -= float64(e)
	}
	return s, true
}

// vmul sets dst[i] = a[i]*b[i]*s.
func vmul(v *vecSet, dst, a, b []float32, s float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	i := 0
	if v == vec512 {
		i = n &^ 15
		if i > 0 {
			mulAVX512(&dst[0], &a[0], &b[0], i, s)
		}
	}
	for ; i < n; i++ {
		dst[i] = a[i] * s * b[i]
	}
}
