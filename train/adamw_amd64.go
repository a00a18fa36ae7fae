//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

//go:noescape
func adamwAVX512(w, grad, m, v *float32, n int, c *[8]float32)

// adamwBulk updates the leading multiple of 16 elements with AVX-512 where
// the CPU has it, exactly as the Go loop would, and returns how many.
func adamwBulk(w, g, m, v []float32, c *[8]float32) int {
	n := len(w) &^ 15
	if n == 0 || !cpu.X86.HasAVX512F {
		return 0
	}
	adamwAVX512(&w[0], &g[0], &m[0], &v[0], n, c)
	return n
}
