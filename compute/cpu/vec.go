package cpu

import (
	"math"

	"hone/tensor"
)

// vecSet is a set of vector primitives for the fused ops and the attention,
// in assembly for one instruction set. The assembly handles multiples of w
// elements (the bulk of a slice, or a head dimension that is one); the Go
// wrappers below do the rest, and all of it when the set is nil. dots and
// dotsBF16 may be nil (then the few-row product path is not used), and
// accRowsBF16 (then its Go wrapper widens row by row).
type vecSet struct {
	w           int
	dot         func(a, b *float32, n int) float32
	axpy        func(y, x *float32, n int, alpha float32)
	max         func(x *float32, n int) float32
	exp         func(dst, x *float32, n int, scale, shift float32) float64
	accRows     func(o, p, v *float32, ldv, nk, hd int)
	accRowsBF16 func(o, p *float32, v *uint16, ldv, nk, hd int)
	// accTile4, where not nil, is accRows for four rows of weights and
	// outputs at once, the weights of a row pk apart (accTile and rankK
	// below)
	accTile4 func(o *float32, ldo int, p *float32, ldp, pk int, v *float32, ldv, nk, hd int)
	// softmaxTile, where not nil, is softmaxTile below for rows of a
	// multiple of w scores
	softmaxTile func(sc *float32, ldsc, rows, n int, scale float32, m, mo *float32, sums *float64)
	// dsTile, where not nil, is dsTile below for rows of a multiple of
	// w scores
	dsTile   func(sc, dp *float32, ld, rows, n int, scale float32, lse, d *float32, ldd int)
	rankK    func(dst *float32, ldd int, c *float32, ldc int, x *float32, ldx, nk, kk, hd int)
	dots     func(out, q, k *float32, ldk, nk, hd int)
	dotsBF16 func(out, q *float32, k *uint16, ldk, nk, hd int)
	// dotsSeq and dotsSeqBF16 are dots and dotsBF16 reading the rows one
	// at a time, in order (the few-row product); dots may take several
	// keys at once
	dotsSeq     func(out, q, k *float32, ldk, nk, hd int)
	dotsSeqBF16 func(out, q *float32, k *uint16, ldk, nk, hd int)
	// dotsGroupBF16[g] and accRowsGroupBF16[g], where not nil, are
	// dotsBF16 and accRowsBF16 for g heads that share their keys and
	// values (dotsGroupBF16, accRowsGroupBF16 below)
	dotsGroupBF16    [4]func(out, q *float32, k *uint16, ldk, nk, hd, ldo int)
	accRowsGroupBF16 [4]func(o, p *float32, v *uint16, ldv, nk, hd, ldo, ldp int)
	// dotsGroup and accRowsGroup are the same over float32 rows (dots
	// and accRows for the heads of a group)
	dotsGroup    [4]func(out, q, k *float32, ldk, nk, hd, ldo int)
	accRowsGroup [4]func(o, p, v *float32, ldv, nk, hd, ldo, ldp int)
}

// bulk returns how many leading elements of n the assembly of v handles.
func (v *vecSet) bulk(n int) int {
	if v == nil || n < v.w {
		return 0
	}
	return n &^ (v.w - 1)
}

// whole reports whether the assembly of v handles rows of hd elements.
func (v *vecSet) whole(hd int) bool { return v != nil && hd%v.w == 0 }

// dot returns a·b.
func dot(v *vecSet, a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s float32
	i := v.bulk(n)
	if i > 0 {
		s = v.dot(&a[0], &b[0], i)
	}
	for ; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpy sets y += alpha*x.
func axpy(v *vecSet, y, x []float32, alpha float32) {
	n := len(y)
	x = x[:n]
	i := v.bulk(n)
	if i > 0 {
		v.axpy(&y[0], &x[0], i, alpha)
	}
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}

// vmax returns the largest element of x (len(x) > 0).
func vmax(v *vecSet, x []float32) float32 {
	m := x[0]
	i := v.bulk(len(x))
	if i > 0 {
		m = v.max(&x[0], i)
	}
	for _, e := range x[i:] {
		m = max(m, e)
	}
	return m
}

// vexp sets dst[i] = exp(scale*x[i] - shift) and returns the sum of dst,
// accumulated in float64. dst may be x. The assembly clamps the argument
// (AVX-512: to [-104, 88.7], so -Inf gives 0; AVX2: to [-87, 88.3], with
// exp(-87) and below taken as 0), gives 0 for a NaN argument, and is
// accurate to about 2 ulp.
func vexp(v *vecSet, dst, x []float32, scale, shift float32) float64 {
	n := len(x)
	dst = dst[:n]
	var s float64
	i := v.bulk(n)
	if i > 0 {
		s = v.exp(&dst[0], &x[0], i, scale, shift)
	}
	if t, ok := expTail(v, dst[i:], x[i:], scale, shift); ok {
		return s + t
	}
	for ; i < n; i++ {
		e := float32(math.Exp(float64(scale*x[i] - shift)))
		dst[i] = e
		s += float64(e)
	}
	return s
}

// dots sets out[j] = q·k[j*ldk : j*ldk+len(q)] for j < len(out), the
// assembly taking several rows of k at once (attention's keys).
func dots(v *vecSet, out, q, k []float32, ldk int) {
	var f func(out, q, k *float32, ldk, nk, hd int)
	if v != nil {
		f = v.dots
	}
	dotsWith(v, f, out, q, k, ldk)
}

// dotsSeq is dots reading the rows of k one at a time, in order: the
// few-row product's, whose weights must stream as one sequence.
func dotsSeq(v *vecSet, out, q, k []float32, ldk int) {
	var f func(out, q, k *float32, ldk, nk, hd int)
	if v != nil {
		f = v.dotsSeq
	}
	dotsWith(v, f, out, q, k, ldk)
}

func dotsWith(v *vecSet, f func(out, q, k *float32, ldk, nk, hd int), out, q, k []float32, ldk int) {
	hd := len(q)
	if len(out) == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(len(out)-1)*ldk+hd-1]
	if v.whole(hd) && f != nil {
		f(&out[0], &q[0], &k[0], ldk, len(out), hd)
		return
	}
	for j := range out {
		out[j] = dot(nil, q, k[j*ldk:j*ldk+hd])
	}
}

// dotsBF16 sets out[j] = q·k[j*ldk : j*ldk+len(q)] for a bf16 k, widened
// exactly, the assembly taking several rows at once (a bf16 cache's keys).
func dotsBF16(v *vecSet, out, q []float32, k []uint16, ldk int) {
	var f func(out, q *float32, k *uint16, ldk, nk, hd int)
	if v != nil {
		f = v.dotsBF16
	}
	dotsBF16With(v, f, out, q, k, ldk)
}

// dotsSeqBF16 is dotsBF16 reading the rows of k one at a time, in order.
func dotsSeqBF16(v *vecSet, out, q []float32, k []uint16, ldk int) {
	var f func(out, q *float32, k *uint16, ldk, nk, hd int)
	if v != nil {
		f = v.dotsSeqBF16
	}
	dotsBF16With(v, f, out, q, k, ldk)
}

func dotsBF16With(v *vecSet, f func(out, q *float32, k *uint16, ldk, nk, hd int), out, q []float32, k []uint16, ldk int) {
	hd := len(q)
	if len(out) == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(len(out)-1)*ldk+hd-1]
	if v.whole(hd) && f != nil {
		f(&out[0], &q[0], &k[0], ldk, len(out), hd)
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

// dotsGroupBF16 is dotsBF16 for the g heads of a grouped-query attention
// that share one key head: out[i*ldo+j] = q[i*hd:(i+1)*hd]·k[j*ldk :
// j*ldk+hd] for i < g, j < nk, with g = len(q)/hd (hd > 0). The assembly takes
// two or three heads at once, reading and widening each key row once for
// them (once a head, decoding at 4000 cached positions of the SmolLM2-135M
// shape spent most of a token in the attention), and makes every sum as
// dotsBF16 does: the results are dotsBF16's bit for bit.
func dotsGroupBF16(v *vecSet, out []float32, ldo int, q []float32, hd int, k []uint16, ldk, nk int) {
	var kern [4]func(out, q *float32, k *uint16, ldk, nk, hd, ldo int)
	if v != nil {
		kern = v.dotsGroupBF16
	}
	dotsGroupWith(v, kern, dotsBF16, out, ldo, q, hd, k, ldk, nk)
}

// dotsGroup is dotsGroupBF16 over float32 key rows (a float32 cache), the
// results dots's bit for bit.
func dotsGroup(v *vecSet, out []float32, ldo int, q []float32, hd int, k []float32, ldk, nk int) {
	var kern [4]func(out, q, k *float32, ldk, nk, hd, ldo int)
	if v != nil {
		kern = v.dotsGroup
	}
	dotsGroupWith(v, kern, dots, out, ldo, q, hd, k, ldk, nk)
}

// dotsGroupWith is dotsGroupBF16 and dotsGroup: kern's assembly for
// two or three heads at a time where it has them, one (dotsBF16 or dots)
// for the rest.
func dotsGroupWith[T float32 | uint16](v *vecSet, kern [4]func(out, q *float32, k *T, ldk, nk, hd, ldo int),
	one func(v *vecSet, out, q []float32, k []T, ldk int), out []float32, ldo int, q []float32, hd int, k []T, ldk, nk int) {
	if nk == 0 || hd <= 0 || len(q) < hd {
		return
	}
	g := len(q) / hd
	_ = out[(g-1)*ldo+nk-1]
	_ = k[(nk-1)*ldk+hd-1]
	for i := 0; i < g; {
		m := min(3, g-i)
		if v.whole(hd) && kern[m] != nil {
			kern[m](&out[i*ldo], &q[i*hd], &k[0], ldk, nk, hd, ldo)
			i += m
			continue
		}
		one(v, out[i*ldo:i*ldo+nk], q[i*hd:(i+1)*hd], k, ldk)
		i++
	}
}

// accRowsGroupBF16 is accRowsBF16 for g heads that share their value rows:
// o[i*ldo : i*ldo+hd] += sum_j p[i*ldp+j] * rows[j*ldv : j*ldv+hd] for i <
// g, j < nk, each value row read and widened once for two or three heads
// in the assembly, the sums accRowsBF16's bit for bit.
func accRowsGroupBF16(v *vecSet, o []float32, ldo, hd, g int, p []float32, ldp, nk int, rows []uint16, ldv int) {
	var kern [4]func(o, p *float32, v *uint16, ldv, nk, hd, ldo, ldp int)
	if v != nil {
		kern = v.accRowsGroupBF16
	}
	accRowsGroupWith(v, kern, accRowsBF16, o, ldo, hd, g, p, ldp, nk, rows, ldv)
}

// accRowsGroup is accRowsGroupBF16 over float32 value rows, the sums
// accRows's bit for bit.
func accRowsGroup(v *vecSet, o []float32, ldo, hd, g int, p []float32, ldp, nk int, rows []float32, ldv int) {
	var kern [4]func(o, p, v *float32, ldv, nk, hd, ldo, ldp int)
	if v != nil {
		kern = v.accRowsGroup
	}
	accRowsGroupWith(v, kern, accRows, o, ldo, hd, g, p, ldp, nk, rows, ldv)
}

// accRowsGroupWith is accRowsGroupBF16 and accRowsGroup: kern's assembly
// for two or three heads at a time where it has them, one (accRowsBF16 or
// accRows) for the rest.
func accRowsGroupWith[T float32 | uint16](v *vecSet, kern [4]func(o, p *float32, v *T, ldv, nk, hd, ldo, ldp int),
	one func(v *vecSet, o, p []float32, rows []T, ldv int), o []float32, ldo, hd, g int, p []float32, ldp, nk int, rows []T, ldv int) {
	if nk == 0 || g == 0 || hd == 0 {
		return
	}
	_ = o[(g-1)*ldo+hd-1]
	_ = p[(g-1)*ldp+nk-1]
	_ = rows[(nk-1)*ldv+hd-1]
	for i := 0; i < g; {
		m := min(3, g-i)
		if v.whole(hd) && kern[m] != nil {
			kern[m](&o[i*ldo], &p[i*ldp], &rows[0], ldv, nk, hd, ldo, ldp)
			i += m
			continue
		}
		one(v, o[i*ldo:i*ldo+hd], p[i*ldp:i*ldp+nk], rows, ldv)
		i++
	}
}

// accRows sets o += sum_j p[j] * v[j*ldv : j*ldv+len(o)].
func accRows(v *vecSet, o, p, rows []float32, ldv int) {
	hd := len(o)
	if len(p) == 0 || hd == 0 {
		return
	}
	_ = rows[(len(p)-1)*ldv+hd-1]
	if v.whole(hd) {
		v.accRows(&o[0], &p[0], &rows[0], ldv, len(p), hd)
		return
	}
	for j, pj := range p {
		axpy(nil, o, rows[j*ldv:j*ldv+hd], pj)
	}
}

// accTile sets o[i*ldo : i*ldo+hd] += sum_j p[i*ldp+j] * v[j*ldv : j*ldv+hd]
// for i < rows and j < nk: accRows for several rows of weights over the
// same value rows (a block of queries in the tiled attention), four at a
// time in the assembly, which reads each value row once for the four and
// keeps their sums in registers; each sum takes the keys in order. The
// rows left over, and every row where the assembly does not handle hd,
// go through accRows.
func accTile(v *vecSet, o []float32, ldo, hd, rows int, p []float32, ldp, nk int, vr []float32, ldv int) {
	if rows == 0 || nk == 0 || hd == 0 {
		return
	}
	_ = o[(rows-1)*ldo+hd-1]
	_ = p[(rows-1)*ldp+nk-1]
	_ = vr[(nk-1)*ldv+hd-1]
	i := 0
	if v.whole(hd) && v.accTile4 != nil {
		for ; i+4 <= rows; i += 4 {
			v.accTile4(&o[i*ldo], ldo, &p[i*ldp], ldp, 1, &vr[0], ldv, nk, hd)
		}
	}
	for ; i < rows; i++ {
		accRows(v, o[i*ldo:i*ldo+hd], p[i*ldp:i*ldp+nk], vr, ldv)
	}
}

// softmaxTile takes one step of the online softmax over rows rows of n
// scores (row i at sc[i*ldsc:]), as the tiled attention does a row at a
// time: mo[i] = max(m[i], scale*max(row i)), the row replaced by
// exp(scale*x - mo[i]) and sums[i] its sum, the values and sums of vmax
// and vexp bit for bit. The assembly takes every row in one call, the
// exp's constants loaded once.
func softmaxTile(v *vecSet, sc []float32, ldsc, rows, n int, scale float32, m, mo []float32, sums []float64) {
	if rows == 0 || n == 0 {
		return
	}
	_ = sc[(rows-1)*ldsc+n-1]
	_, _, _ = m[rows-1], mo[rows-1], sums[rows-1]
	if v != nil && v.softmaxTile != nil && n%v.w == 0 {
		v.softmaxTile(&sc[0], ldsc, rows, n, scale, &m[0], &mo[0], &sums[0])
		return
	}
	for i := 0; i < rows; i++ {
		row := sc[i*ldsc : i*ldsc+n]
		mo[i] = max(m[i], vmax(v, row)*scale)
		sums[i] = vexp(v, row, row, scale, mo[i])
	}
}

// accRowsBF16 is accRows with bf16 rows, widened exactly.
func accRowsBF16(v *vecSet, o, p []float32, rows []uint16, ldv int) {
	hd := len(o)
	if len(p) == 0 || hd == 0 {
		return
	}
	_ = rows[(len(p)-1)*ldv+hd-1]
	if v.whole(hd) && v.accRowsBF16 != nil {
		v.accRowsBF16(&o[0], &p[0], &rows[0], ldv, len(p), hd)
		return
	}
	for j, pj := range p {
		for d, h := range rows[j*ldv : j*ldv+hd] {
			o[d] += pj * tensor.BF16ToF32(h)
		}
	}
}

// rankK sets dst[j*ldd : j*ldd+hd] += sum_{i<kk} c[i*ldc+j] * x[i*ldx : i*ldx+hd]
// for j < nk: a tile of key rows updated from a block of kk query rows.
func rankK(v *vecSet, dst []float32, ldd int, c []float32, ldc int, x []float32, ldx, nk, kk, hd int) {
	if nk == 0 || kk == 0 || hd == 0 {
		return
	}
	_ = dst[(nk-1)*ldd+hd-1]
	_ = c[(kk-1)*ldc+nk-1]
	_ = x[(kk-1)*ldx+hd-1]
	if v.whole(hd) {
		j := 0
		if v.accTile4 != nil {
			// four key rows at a time, each query row's chunk loaded once
			// for the four; the sums in the same order (bit for bit)
			for ; j+4 <= nk; j += 4 {
				v.accTile4(&dst[j*ldd], ldd, &c[j], 1, ldc, &x[0], ldx, kk, hd)
			}
		}
		if j < nk {
			v.rankK(&dst[j*ldd], ldd, &c[j], ldc, &x[0], ldx, nk-j, kk, hd)
		}
		return
	}
	for j := 0; j < nk; j++ {
		d := dst[j*ldd : j*ldd+hd]
		for i := 0; i < kk; i++ {
			axpy(nil, d, x[i*ldx:i*ldx+hd], c[i*ldc+j])
		}
	}
}

// accTileBF16 is accTile over bf16 pairs of keys, as the tiled attention
// over a bf16 cache sums its values: for i < rows and q < nq,
// o[i*ldo+d] += p[i*ldp+2q+1]*v[q*ldv+2d+1] + p[i*ldp+2q]*v[q*ldv+2d] for
// d < hd, where p holds each row's weights in bf16 and v the value rows
// of keys 2q and 2q+1 interleaved element by element (the pairs
// VDPBF16PS takes). Each product of two bf16 is exact in float32; the
// two are added to the sum one after the other, the odd one first, as the
// instruction adds them. Four rows at a time in kb's assembly; the rows
// left over, and all of them where kb has none or hd is not a multiple of
// 16, in Go: the same sums bit for bit, but for subnormal numbers, which
// the instruction takes and gives as zero.
func accTileBF16(kb *bf16Kernel, o []float32, ldo, hd, rows int, p []uint16, ldp, nq int, v []uint16, ldv int) {
	if rows == 0 || nq == 0 || hd == 0 {
		return
	}
	_ = o[(rows-1)*ldo+hd-1]
	_ = p[(rows-1)*ldp+2*nq-1]
	_ = v[(nq-1)*ldv+2*hd-1]
	i := 0
	if kb != nil && kb.accTile4 != nil && hd%16 == 0 {
		for ; i+4 <= rows; i += 4 {
			kb.accTile4(&o[i*ldo], ldo, &p[i*ldp], ldp, &v[0], ldv, nq, hd)
		}
	}
	for ; i < rows; i++ {
		oi := o[i*ldo : i*ldo+hd]
		for q := range nq {
			p0 := tensor.BF16ToF32(p[i*ldp+2*q])
			p1 := tensor.BF16ToF32(p[i*ldp+2*q+1])
			vq := v[q*ldv : q*ldv+2*hd]
			for d := range oi {
				oi[d] += p1 * tensor.BF16ToF32(vq[2*d+1])
				oi[d] += p0 * tensor.BF16ToF32(vq[2*d])
			}
		}
	}
}

// roundPairs writes the first n of each of rows rows of x (row i at
// x[i*ldx:]) to dst (row i at dst[i*ldd:]) rounded to bf16 (nearest,
// ties to even), and a zero after them when n is odd, so that every row
// is whole pairs. kb's vector conversion, where it takes the row's
// multiples of 16, rounds subnormal numbers to zero.
func roundPairs(kb *bf16Kernel, dst []uint16, ldd int, x []float32, ldx, rows, n int) {
	for i := range rows {
		xi, di := x[i*ldx:i*ldx+n], dst[i*ldd:i*ldd+(n+1)&^1]
		j := 0
		if kb != nil && kb.cvt != nil && n >= 16 {
			j = n &^ 15
			kb.cvt(&di[0], &xi[0], j)
		}
		for ; j < n; j++ {
			di[j] = tensor.F32ToBF16(xi[j])
		}
		if n%2 == 1 {
			di[n] = 0
		}
	}
}

// softmaxTileBF16 is softmaxTile writing the exponentials rounded to bf16
// (nearest, ties to even) to pb (row i at pb[i*ldpb:], a zero after an odd
// row's last) instead of over the scores, for the tiled attention over a
// bf16 cache: the same maxima, sums and probabilities, bit for bit, as
// softmaxTile followed by roundPairs, in one call where kb has the
// assembly (it leaves sc as it was then; otherwise sc holds the
// exponentials).
func softmaxTileBF16(kb *bf16Kernel, v *vecSet, sc []float32, ldsc, rows, n int, scale float32, m, mo []float32, sums []float64, pb []uint16, ldpb int) {
	if rows == 0 || n == 0 {
		return
	}
	_ = sc[(rows-1)*ldsc+n-1]
	_ = pb[(rows-1)*ldpb+(n+1)&^1-1]
	_, _, _ = m[rows-1], mo[rows-1], sums[rows-1]
	if kb != nil && kb.softmaxTile != nil && n%16 == 0 {
		kb.softmaxTile(&sc[0], ldsc, rows, n, scale, &m[0], &mo[0], &sums[0], &pb[0], ldpb)
		return
	}
	softmaxTile(v, sc, ldsc, rows, n, scale, m, mo, sums)
	roundPairs(kb, pb, ldpb, sc, ldsc, rows, n)
}

// dsTile is the attention backward's step for rows rows of a tile whose
// rows see all n of its keys (row i at sc[i*ld:] and dp[i*ld:]): the
// scores become the probabilities P = exp(scale*s - lse[i]) (vexp's) and
// dp, dout·v, becomes dS = P*(dp - d[i*ldd])*scale. The assembly does every
// row in one call, bit for bit the row-by-row loop.
func dsTile(v *vecSet, sc, dp []float32, ld, rows, n int, scale float32, lse, d []float32, ldd int) {
	if rows == 0 || n == 0 {
		return
	}
	_ = sc[(rows-1)*ld+n-1]
	_ = dp[(rows-1)*ld+n-1]
	_ = lse[rows-1]
	_ = d[(rows-1)*ldd]
	if v != nil && v.dsTile != nil && n%v.w == 0 {
		v.dsTile(&sc[0], &dp[0], ld, rows, n, scale, &lse[0], &d[0], ldd)
		return
	}
	for i := range rows {
		pt, dt := sc[i*ld:i*ld+n], dp[i*ld:i*ld+n]
		vexp(v, pt, pt, scale, lse[i])
		di := d[i*ldd]
		for j := range dt {
			dt[j] = pt[j] * (dt[j] - di) * scale
		}
	}
}

// scoresBF16 sets out[j] = q·k[j*ldk : j*ldk+len(q)] for j < len(out), q
// and k bf16, the products summed in float32 as VDPBF16PS sums them (the
// one-query attention over a bf16 cache, with the query rounded to bf16):
// element pair i of every 32 into lane i%16 of 16 sums, the odd element's
// product first, then the lanes added as a tree (i with i+8, then with
// i+4, i+2, i+1). The assembly (kb.scores, heads a multiple of 16 wide)
// takes sixteen keys at a time; the Go loop makes the same sums, so the
// two agree bit for bit (but for denormals, which the instruction
// flushes).
func scoresBF16(kb *bf16Kernel, out []float32, q, k []uint16, ldk int) {
	hd := len(q)
	if len(out) == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(len(out)-1)*ldk+hd-1]
	if kb != nil && kb.scores != nil && hd%16 == 0 {
		kb.scores(&out[0], &q[0], &k[0], ldk, len(out), hd)
		return
	}
	for j := range out {
		row := k[j*ldk : j*ldk+hd]
		var l [16]float32
		for d := 0; d < hd; d += 2 {
			i := d / 2 % 16
			if d+1 < hd {
				l[i] += tensor.BF16ToF32(q[d+1]) * tensor.BF16ToF32(row[d+1])
			}
			l[i] += tensor.BF16ToF32(q[d]) * tensor.BF16ToF32(row[d])
		}
		for w := 8; w > 0; w /= 2 {
			for i := range w {
				l[i] += l[i+w]
			}
		}
		out[j] = l[0]
	}
}

// accPairsBF16 sets o[i*ldo : i*ldo+hd] += sum_j p[i*ldp+j] * rows[j*ldv :
// j*ldv+hd] for i < g and j < nk, p and rows bf16 (rounded probabilities
// and a bf16 cache's values), as VDPBF16PS sums over pairs of keys: for
// each column a float32 sum from zero, each pair's odd key's product
// first (an odd last key pairs with a zero), added to o at the end. The
// assembly (kb.accPairs, hd a multiple of 16) takes up to three heads at
// once, reading each value row once for them; the Go loop makes the same
// sums (bit for bit but for denormals).
func accPairsBF16(kb *bf16Kernel, o []float32, ldo, hd, g int, p []uint16, ldp, nk int, rows []uint16, ldv int) {
	if nk == 0 || g == 0 || hd == 0 {
		return
	}
	_ = o[(g-1)*ldo+hd-1]
	_ = p[(g-1)*ldp+nk-1]
	_ = rows[(nk-1)*ldv+hd-1]
	for i := 0; i < g; {
		m := min(3, g-i)
		if kb != nil && kb.accPairs[m] != nil && hd%16 == 0 {
			kb.accPairs[m](&o[i*ldo], &p[i*ldp], &rows[0], ldv, nk, hd, ldo, ldp)
			i += m
			continue
		}
		oi, pi := o[i*ldo:i*ldo+hd], p[i*ldp:i*ldp+nk]
		for d := range oi {
			var s float32
			for j := 0; j < nk; j += 2 {
				if j+1 < nk {
					s += tensor.BF16ToF32(pi[j+1]) * tensor.BF16ToF32(rows[(j+1)*ldv+d])
				}
				s += tensor.BF16ToF32(pi[j]) * tensor.BF16ToF32(rows[j*ldv+d])
			}
			oi[d] += s
		}
		i++
	}
}
