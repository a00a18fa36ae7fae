//go:build amd64 && !purego

package cpu

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
