//go:build !amd64 || purego

package cpu

// siluFns returns no vector SwiGLU kernels on this platform.
func siluFns(v *vecSet) (fwd func(out, g, u, e *float32, n int), back func(dg, du, dout, g, u, e *float32, n int)) {
	return nil, nil
}

// expTail reports false: vexp's tail takes math.Exp on this platform.
func expTail(v *vecSet, dst, x []float32, scale, shift float32) (float64, bool) {
	return 0, false
}

// vmul sets dst[i] = a[i]*b[i]*s.
func vmul(v *vecSet, dst, a, b []float32, s float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * s * b[i]
	}
}
