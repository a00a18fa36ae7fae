package cpu

import (
	"math"

	"hone/tensor"
)

// The vector primitives of the fused ops and the attention. With fast set
// (AVX-512) the bulk runs in assembly and the tail (len % 16) in Go;
// otherwise all of it runs in Go.

// dot returns a·b.
func dot(fast bool, a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s float32
	i := 0
	if fast && n >= 16 {
		i = n &^ 15
		s = dotAVX512(&a[0], &b[0], i)
	}
	for ; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpy sets y += alpha*x.
func axpy(fast bool, y, x []float32, alpha float32) {
	n := len(y)
	x = x[:n]
	i := 0
	if fast && n >= 16 {
		i = n &^ 15
		axpyAVX512(&y[0], &x[0], i, alpha)
	}
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}

// vmax returns the largest element of x (len(x) > 0).
func vmax(fast bool, x []float32) float32 {
	m := x[0]
	i := 0
	if fast && len(x) >= 16 {
		i = len(x) &^ 15
		m = maxAVX512(&x[0], i)
	}
	for _, v := range x[i:] {
		m = max(m, v)
	}
	return m
}

// vexp sets dst[i] = exp(scale*x[i] - shift) and returns the sum of dst,
// accumulated in float64. dst may be x. The assembly clamps its argument
// to [-104, 88.7] (so -Inf gives 0, a NaN argument gives 0 too) and is
// accurate to about 2 ulp.
func vexp(fast bool, dst, x []float32, scale, shift float32) float64 {
	n := len(x)
	dst = dst[:n]
	var s float64
	i := 0
	if fast && n >= 16 {
		i = n &^ 15
		s = expAVX512(&dst[0], &x[0], i, scale, shift)
	}
	for ; i < n; i++ {
		e := float32(math.Exp(float64(scale*x[i] - shift)))
		dst[i] = e
		s += float64(e)
	}
	return s
}

// dots sets out[j] = q·k[j*ldk : j*ldk+len(q)] for j < len(out).
func dots(fast bool, out, q, k []float32, ldk int) {
	hd := len(q)
	if len(out) == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(len(out)-1)*ldk+hd-1]
	if fast && hd%16 == 0 {
		dotsAVX512(&out[0], &q[0], &k[0], ldk, len(out), hd)
		return
	}
	for j := range out {
		out[j] = dot(false, q, k[j*ldk:j*ldk+hd])
	}
}

// accRows sets o += sum_j p[j] * v[j*ldv : j*ldv+len(o)].
func accRows(fast bool, o, p, v []float32, ldv int) {
	hd := len(o)
	if len(p) == 0 || hd == 0 {
		return
	}
	_ = v[(len(p)-1)*ldv+hd-1]
	if fast && hd%16 == 0 {
		accRowsAVX512(&o[0], &p[0], &v[0], ldv, len(p), hd)
		return
	}
	for j, pj := range p {
		axpy(false, o, v[j*ldv:j*ldv+hd], pj)
	}
}

// rank1 sets dst[j*ld : j*ld+len(x)] += c[j] * x for j < len(c).
func rank1(fast bool, dst []float32, ld int, c, x []float32) {
	hd := len(x)
	if len(c) == 0 || hd == 0 {
		return
	}
	_ = dst[(len(c)-1)*ld+hd-1]
	if fast && hd%16 == 0 {
		rank1AVX512(&dst[0], ld, &c[0], &x[0], len(c), hd)
		return
	}
	for j, cj := range c {
		axpy(false, dst[j*ld:j*ld+hd], x, cj)
	}
}

// dotsBF16 sets out[j] = q·k[j*ldk : j*ldk+len(q)] for a bf16 k, widened
// exactly.
func dotsBF16(fast bool, out, q []float32, k []uint16, ldk int) {
	hd := len(q)
	if len(out) == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(len(out)-1)*ldk+hd-1]
	if fast && hd%16 == 0 {
		dotsBF16AVX512(&out[0], &q[0], &k[0], ldk, len(out), hd)
		return
	}
	for j := range out {
		var s float32
		for p, h := range k[j*ldk : j*ldk+hd] {
			s += q[p] * tensor.BF16ToF32(h)
		}
		out[j] = s
	}
}

// rankK sets dst[j*ldd : j*ldd+hd] += sum_{i<kk} c[i*ldc+j] * x[i*ldx : i*ldx+hd]
// for j < nk: a tile of key rows updated from a block of kk query rows.
func rankK(fast bool, dst []float32, ldd int, c []float32, ldc int, x []float32, ldx, nk, kk, hd int) {
	if nk == 0 || kk == 0 || hd == 0 {
		return
	}
	_ = dst[(nk-1)*ldd+hd-1]
	_ = c[(kk-1)*ldc+nk-1]
	_ = x[(kk-1)*ldx+hd-1]
	if fast && hd%16 == 0 {
		rankKAVX512(&dst[0], ldd, &c[0], ldc, &x[0], ldx, nk, kk, hd)
		return
	}
	for j := 0; j < nk; j++ {
		d := dst[j*ldd : j*ldd+hd]
		for i := 0; i < kk; i++ {
			axpy(false, d, x[i*ldx:i*ldx+hd], c[i*ldc+j])
		}
	}
}
