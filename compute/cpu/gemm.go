package cpu

import (
	"unsafe"

	"hone/tensor"
)

// kernels is the set of GEMM micro-kernels of one instruction set.
type kernels struct {
	name string
	f32  f32Kernel
	// bf16 is nil where the CPU has no bf16 dot product: products with a
	// BF16 b then widen b to float32 while packing and use f32.
	bf16 *bf16Kernel
	// tr8 transposes an 8 x 8*kb block of 32-bit elements (see
	// gen_kernels.go); nil where there is no vector version.
	tr8 func(dst *float32, ldd int, src *float32, lds int, kb int)
	// vec holds the vector primitives of the fused ops and attention;
	// nil selects the Go loops.
	vec *vecSet
}

// f32Kernel computes an mr x nr tile of C from float32 panels.
type f32Kernel struct {
	mr, nr int
	fn     func(kc int, a, b, c *float32, ldc int, acc int)
}

// bf16Kernel computes an mr x nr tile of C from panels of bf16 pairs: kc
// counts pairs of k.
type bf16Kernel struct {
	mr, nr int
	fn     func(kc int, a, b *uint16, c *float32, ldc int, acc int)
	// cvt rounds n float32 (a multiple of 16) to bf16.
	cvt func(dst *uint16, src *float32, n int)
	// il interleaves two bf16 rows of n (a multiple of 16) into pairs.
	il func(dst, r0, r1 *uint16, n int)
	// accTile4, where not nil, is accTileBF16's four rows at a time (vec.go).
	accTile4 func(o *float32, ldo int, p *uint16, ldp int, v *uint16, ldv, nq, hd int)
	// softmaxTile, where not nil, is softmaxTileBF16 for rows of a
	// multiple of 16 scores (vec.go).
	softmaxTile func(sc *float32, ldsc, rows, n int, scale float32, m, mo *float32, sums *float64, pb *uint16, ldpb int)
	// scores and accPairs[g], where not nil, are scoresBF16 and
	// accPairsBF16's g heads at once for heads a multiple of 32 wide
	// (vec.go): the one-query attention over a bf16 cache.
	scores   func(out *float32, q, k *uint16, ldk, nk, hd int)
	accPairs [4]func(o *float32, p, v *uint16, ldv, nk, hd, ldo, ldp int)
}

// Blocking. A k block of the packed A (all of m) and of one thread's B
// chunk (panelsPerChunk panels of nr columns) stay in L2; one A
// micro-panel (mr x kc) stays in L1 while the thread sweeps the chunk.
const (
	kcF32          = 384 // k per block, float32
	kcBF16         = 768 // k per block, bf16 (384 pairs)
	panelsPerChunk = 8   // nr-wide panels of B per task, at most
	tasksPerThread = 2   // tasks a product aims at per thread
	// parallelFlops is the size (2mnk) below which a product runs on the
	// calling goroutine alone: waking the pool costs more than it saves.
	parallelFlops = 1 << 17
)

// packABytes bounds the scratch that holds the packed op(A) (a variable so
// that tests can exercise the blocking over rows).
var packABytes = 16 << 20

// trFunc is the type of kernels.tr8.
type trFunc = func(dst *float32, ldd int, src *float32, lds int, kb int)

// operand is one matrix operand of a product as stored: element (r, c) of
// op(X) is at d[r*ld+c], or at d[c*ld+r] when t is set. Exactly one of f
// and h is set.
type operand struct {
	f  []float32
	h  []uint16 // bfloat16 bits
	ld int
	t  bool
	// pre, when set, is op(B) already packed (a frozen weight); it is
	// dropped when the operand is cut.
	pre *packedB
}

// colsFrom returns the operand that starts at column p0 of op(X).
func (o operand) colsFrom(p0 int) operand {
	off := p0
	if o.t {
		off = p0 * o.ld
	}
	return o.from(off)
}

// rowsFrom returns the operand that starts at row p0 of op(X).
func (o operand) rowsFrom(p0 int) operand {
	off := p0 * o.ld
	if o.t {
		off = p0
	}
	return o.from(off)
}

func (o operand) from(off int) operand {
	o.pre = nil
	if o.f != nil {
		o.f = o.f[off:]
	} else {
		o.h = o.h[off:]
	}
	return o
}

// gemm computes C (m x n, row stride ldc) = op(A)·op(B), or adds it to C
// when acc is set. op(A) is m x k and float32; op(B) is k x n, float32 or
// bf16.
func (e *Engine) gemm(m, n, k int, a, b operand, c []float32, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if v := e.kern.vec; m <= gemvRows && v != nil && v.dots != nil && v.dotsBF16 != nil && (b.f != nil || b.t) {
		e.gemv(m, n, k, a, b, c, ldc, acc)
		return
	}
	if b.f != nil && n <= narrowCols && m >= 4*n {
		e.narrow(m, n, k, a, b, c, ldc, acc)
		return
	}
	mc := max(64, packABytes/4/k/64*64)
	if m > mc && k > 2*kcBF16 && b.pre == nil {
		// A long product (the LM head's backward, k the vocabulary) would
		// be split into blocks of rows below, each packing all of op(B)
		// again: split k instead, into parts that take every row at once,
		// and accumulate them.
		kk := max(kcBF16, packABytes/4/((m+63)/64*64)/kcBF16*kcBF16)
		for p0 := 0; p0 < k; p0 += kk {
			e.gemm(m, n, min(kk, k-p0), a.colsFrom(p0), b.rowsFrom(p0), c, ldc, acc || p0 > 0)
		}
		return
	}
	// Bound the packed copy of op(A): take the rows in blocks of about
	// packABytes (b is then packed once per block).
	if m > mc {
		for i0 := 0; i0 < m; i0 += mc {
			ai := a
			if a.t {
				ai.f = a.f[i0:]
			} else {
				ai.f = a.f[i0*a.ld:]
			}
			e.packed(min(mc, m-i0), n, k, ai, b, c[i0*ldc:], ldc, acc)
		}
		return
	}
	e.packed(m, n, k, a, b, c, ldc, acc)
}

// narrowCols is the widest product that narrow handles.
const narrowCols = 16

// narrow is gemm for a float32 product with few columns and many rows, such
// as LoRA's rank-r side (x·Aᵀ is n x r): packed as it is, every NR-wide
// micro-tile would be mostly padding. Its transpose Cᵀ = op(B)ᵀ·op(A)ᵀ has
// n rows instead, which fill an MR-row panel (or take the few-row path), so
// narrow computes that into scratch and adds it into C transposed. No
// operand is copied: transposing an operand only flips its layout flag.
func (e *Engine) narrow(m, n, k int, a, b operand, c []float32, ldc int, acc bool) {
	ct := getBuf[float32](n * m)
	defer putBuf(ct)
	at := operand{f: b.f, ld: b.ld, t: !b.t}
	bt := operand{f: a.f, ld: a.ld, t: !a.t}
	e.gemm(n, m, k, at, bt, ct.s, m, false)
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if acc {
			for j := range row {
				row[j] += ct.s[j*m+i]
			}
		} else {
			for j := range row {
				row[j] = ct.s[j*m+i]
			}
		}
	}
}

// packed is gemm by packing both operands (m, n, k > 0).
func (e *Engine) packed(m, n, k int, a, b operand, c []float32, ldc int, acc bool) {
	if b.h != nil && e.kern.bf16 != nil {
		kb := e.kern.bf16
		pl := &plan[uint16]{
			m: m, n: n, k: k, mr: kb.mr, nr: kb.nr, step: 2, kc: kcBF16,
			packA: func(dst []uint16, i0, p0, p1 int) { packABF16(dst, a, m, kb, i0, p0, p1, e.kern.tr8) },
			packB: func(dst []uint16, j0, p0, p1 int) { packBBF16(dst, b, n, kb, j0, p0, p1, e.kern.tr8) },
			kern:  kb.fn, aStrided: a.t, pre: b.pre,
		}
		pl.run(e, c, ldc, acc)
		return
	}
	kf := e.kern.f32
	pl := &plan[float32]{
		m: m, n: n, k: k, mr: kf.mr, nr: kf.nr, step: 1, kc: kcF32,
		packA: func(dst []float32, i0, p0, p1 int) { packAF32(dst, a, m, kf.mr, i0, p0, p1, e.kern.tr8) },
		packB: func(dst []float32, j0, p0, p1 int) { packBF32(dst, b, n, kf.nr, j0, p0, p1, e.kern.tr8) },
		kern:  kf.fn, aStrided: a.t,
	}
	if ks := stridedKernel(e.kern); ks != nil && !b.t && m <= directRows {
		// Few rows: B (stored [k, n]) would be packed for one or two
		// panels of A; read full-width panels in place instead.
		pl.direct = func(steps int, ap *float32, j0, p0 int, c *float32, ldc, acc int) {
			ks(steps, ap, &b.f[p0*b.ld+j0], c, b.ld, ldc, acc)
		}
	}
	pl.run(e, c, ldc, acc)
}

// directRows is the most rows of A for which a float32 B stored [k, n] is
// read in place rather than packed.
const directRows = 16

// plan is one blocked product over packed elements E: float32, or uint16
// holding bf16 pairs (step 2: a kernel step consumes two k).
type plan[E float32 | uint16] struct {
	m, n, k  int
	mr, nr   int
	step, kc int
	// packA packs rows [i0, i0+mr) of op(A) for k in [p0, p1) into an
	// mr-wide micro-panel, zero-padded.
	packA func(dst []E, i0, p0, p1 int)
	// packB packs one nr-wide micro-panel of op(B), columns [j0, j0+nr)
	// for k in [p0, p1), zero-padded.
	packB func(dst []E, j0, p0, p1 int)
	kern  func(kc int, a, b *E, c *float32, ldc int, acc int)
	// aStrided says op(A) is stored transposed (ta), so packA reads
	// strided rows; kStep (even) sub-ranges of k are then packed for
	// groups of panels together.
	aStrided bool
	// pre, when set, holds op(B) already packed: packB is not called.
	pre *packedB
	// direct, when set, multiplies a packed A panel by the full-width
	// panel of op(B) at column j0, k block p0, read in place (only the
	// last, partial panel is packed).
	direct func(steps int, ap *E, j0, p0 int, c *float32, ldc, acc int)
}

// blocks splits [0, k) into near-equal blocks of at most kc, each a
// multiple of step long except the last.
func blocks(k, kc, step int) []int {
	nb := (k + kc - 1) / kc
	bs := make([]int, nb+1)
	for i := 1; i < nb; i++ {
		bs[i] = (i*k/nb + step - 1) / step * step
	}
	bs[nb] = k
	return bs
}

func (pl *plan[E]) run(e *Engine, c []float32, ldc int, acc bool) {
	m, n, mr, nr, step := pl.m, pl.n, pl.mr, pl.nr, pl.step
	if p := pl.pre; p != nil && (p.n != n || p.k != pl.k || p.nr != nr || p.kc != pl.kc || p.step != step) {
		fail("MatMul", "packed weight [%d %d] (nr %d, kc %d) does not fit a %dx%dx%d product", p.k, p.n, p.nr, p.kc, m, pl.k, n)
	}
	kb := blocks(pl.k, pl.kc, step)
	mPanels := (m + mr - 1) / mr
	nPanels := (n + nr - 1) / nr
	mp := mPanels * mr
	kpad := (pl.k + step - 1) / step * step

	threads := e.threads
	if 2*m*n*pl.k < parallelFlops {
		threads = 1
	}
	run := func(tasks int, f func(int)) {
		if threads == 1 {
			for i := 0; i < tasks; i++ {
				f(i)
			}
			return
		}
		e.pool.run(tasks, f)
	}

	// Pack all of op(A), block by block: block [p0, p1) starts at mp*p0
	// and holds mPanels micro-panels of mr*(p1-p0 rounded up to step).
	abuf := getBuf[E](mp * kpad)
	pa := abuf.s
	if pl.aStrided {
		// op(A) is stored transposed: a panel reads mr values from each of
		// its k rows. Pack a group of adjacent panels a few k at a time,
		// so that each cache line of a row serves all of them.
		const group, kStep = 8, 32
		run((mPanels+group-1)/group, func(gi int) {
			for bi := 0; bi+1 < len(kb); bi++ {
				p0, p1 := kb[bi], kb[bi+1]
				w := (p1 - p0 + step - 1) / step * step * mr
				for q0 := p0; q0 < p1; q0 += kStep {
					q1 := min(q0+kStep, p1)
					for ip := gi * group; ip < min(mPanels, (gi+1)*group); ip++ {
						o := mp*p0 + ip*w + (q0-p0)*mr
						pl.packA(pa[o:o+(q1-q0+step-1)/step*step*mr], ip*mr, q0, q1)
					}
				}
			}
		})
	} else {
		run(mPanels, func(ip int) {
			for bi := 0; bi+1 < len(kb); bi++ {
				p0, p1 := kb[bi], kb[bi+1]
				w := (p1 - p0 + step - 1) / step * step * mr
				pl.packA(pa[mp*p0+ip*w:mp*p0+(ip+1)*w], ip*mr, p0, p1)
			}
		})
	}

	// Split the columns into chunks of panels, and the rows too when there
	// are fewer column chunks than threads.
	// Aim at tasksPerThread tasks a thread, so that a thread that the
	// system takes away mid-product holds up a small share: split the
	// columns (which costs nothing: each chunk packs its own panels), then
	// the rows when B comes packed (otherwise each row chunk would pack
	// its panels again).
	want := 1
	if threads > 1 {
		want = tasksPerThread * threads
	}
	nChunks := min(nPanels, max((nPanels+panelsPerChunk-1)/panelsPerChunk, want))
	mChunks := 1
	if nChunks < threads || pl.pre != nil && nChunks < want {
		mChunks = min(mPanels, (want+nChunks-1)/nChunks)
	}
	maxChunk := (nPanels + nChunks - 1) / nChunks
	run(mChunks*nChunks, func(t int) {
		mc, nc := t/nChunks, t%nChunks
		ipa, ipb := mc*mPanels/mChunks, (mc+1)*mPanels/mChunks
		jpa, jpb := nc*nPanels/nChunks, (nc+1)*nPanels/nChunks
		maxW := 0
		for bi := 0; bi+1 < len(kb); bi++ {
			maxW = max(maxW, (kb[bi+1]-kb[bi]+step-1)/step*step)
		}
		var pb []E
		if pl.pre == nil {
			bbuf := getBuf[E](maxW * nr * maxChunk)
			defer putBuf(bbuf)
			pb = bbuf.s
		}
		var tile []float32 // an edge micro-tile, taken when first needed
		for bi := 0; bi+1 < len(kb); bi++ {
			p0, p1 := kb[bi], kb[bi+1]
			w := (p1 - p0 + step - 1) / step * step
			for jp := jpa; jp < jpb && pl.pre == nil; jp++ {
				if pl.direct != nil && (jp+1)*nr <= n {
					continue
				}
				o := (jp - jpa) * w * nr
				pl.packB(pb[o:o+w*nr], jp*nr, p0, p1)
			}
			accFlag := 0
			if acc || bi > 0 {
				accFlag = 1
			}
			steps := w / step
			for ip := ipa; ip < ipb; ip++ {
				ap := &pa[mp*p0+ip*w*mr]
				i0 := ip * mr
				for jp := jpa; jp < jpb; jp++ {
					var bp *E
					if pl.pre != nil {
						bp = (*E)(unsafe.Pointer(pl.pre.panel(p0, w, jp)))
					} else {
						bp = &pb[(jp-jpa)*w*nr]
					}
					j0 := jp * nr
					direct := pl.direct != nil && j0+nr <= n
					if i0+mr <= m && j0+nr <= n {
						if direct {
							pl.direct(steps, ap, j0, p0, &c[i0*ldc+j0], ldc, accFlag)
						} else {
							pl.kern(steps, ap, bp, &c[i0*ldc+j0], ldc, accFlag)
						}
						continue
					}
					if tile == nil {
						tb := getBuf[float32](mr * nr)
						defer putBuf(tb)
						tile = tb.s
					}
					if direct {
						pl.direct(steps, ap, j0, p0, &tile[0], nr, 0)
					} else {
						pl.kern(steps, ap, bp, &tile[0], nr, 0)
					}
					rows, cols := min(mr, m-i0), min(nr, n-j0)
					for i := 0; i < rows; i++ {
						dst := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+cols]
						src := tile[i*nr : i*nr+cols]
						if accFlag == 1 {
							for j, v := range src {
								dst[j] += v
							}
						} else {
							copy(dst, src)
						}
					}
				}
			}
		}
	})
	putBuf(abuf)
}

// packAF32 packs rows [i0, i0+mr) of op(A) for k in [p0, p1) as dst[kk*mr+i].
func packAF32(dst []float32, a operand, m, mr, i0, p0, p1 int, tr8 trFunc) {
	kc := p1 - p0
	rows := min(mr, m-i0)
	if rows < mr {
		clear(dst[:kc*mr])
	}
	if !a.t {
		k8 := 0
		if tr8 != nil && mr == 8 && rows == 8 && kc >= 8 {
			k8 = kc &^ 7
			tr8(&dst[0], 8, &a.f[i0*a.ld+p0], a.ld, k8/8)
		}
		for i := 0; i < rows && k8 < kc; i++ {
			src := a.f[(i0+i)*a.ld+p0+k8 : (i0+i)*a.ld+p1]
			d := dst[k8*mr+i:]
			for kk, v := range src {
				d[kk*mr] = v
			}
		}
		return
	}
	if mr == 8 && rows == 8 {
		// Eight contiguous values per k: two 16-byte moves, not a copy
		// call.
		for kk := 0; kk < kc; kk++ {
			o := (p0+kk)*a.ld + i0
			src := a.f[o : o+8]
			d := dst[kk*8 : kk*8+8]
			*(*[4]float32)(d) = *(*[4]float32)(src)
			*(*[4]float32)(d[4:]) = *(*[4]float32)(src[4:])
		}
		return
	}
	for kk := 0; kk < kc; kk++ {
		o := (p0+kk)*a.ld + i0
		copy(dst[kk*mr:kk*mr+rows], a.f[o:o+rows])
	}
}

// packBF32 packs columns [j0, j0+nr) of op(B) for k in [p0, p1) as
// dst[kk*nr+j] in float32, widening bf16.
func packBF32(dst []float32, b operand, n, nr, j0, p0, p1 int, tr8 trFunc) {
	kc := p1 - p0
	cols := min(nr, n-j0)
	if cols < nr {
		clear(dst[:kc*nr])
	}
	switch {
	case !b.t && b.f != nil:
		for kk := 0; kk < kc; kk++ {
			o := (p0+kk)*b.ld + j0
			copy(dst[kk*nr:kk*nr+cols], b.f[o:o+cols])
		}
	case !b.t:
		for kk := 0; kk < kc; kk++ {
			o := (p0+kk)*b.ld + j0
			d := dst[kk*nr : kk*nr+cols]
			for j, h := range b.h[o : o+cols] {
				d[j] = tensor.BF16ToF32(h)
			}
		}
	case b.f != nil:
		j8, k8 := 0, 0
		if tr8 != nil && kc >= 8 {
			j8, k8 = cols&^7, kc&^7
			for j := 0; j < j8; j += 8 {
				tr8(&dst[j], nr, &b.f[(j0+j)*b.ld+p0], b.ld, k8/8)
			}
		}
		for j := 0; j < cols; j++ {
			kk0 := 0
			if j < j8 {
				kk0 = k8
			}
			if kk0 == kc {
				continue
			}
			src := b.f[(j0+j)*b.ld+p0+kk0 : (j0+j)*b.ld+p1]
			d := dst[kk0*nr+j:]
			for kk, v := range src {
				d[kk*nr] = v
			}
		}
	default:
		for j := 0; j < cols; j++ {
			src := b.h[(j0+j)*b.ld+p0 : (j0+j)*b.ld+p1]
			d := dst[j:]
			for kk, h := range src {
				d[kk*nr] = tensor.BF16ToF32(h)
			}
		}
	}
}

// packABF16 packs rows [i0, i0+mr) of op(A) for k in [p0, p1), rounded to
// bf16, as pairs: element (kk, i) at ((kk/2)*mr+i)*2 + kk%2.
func packABF16(dst []uint16, a operand, m int, kb *bf16Kernel, i0, p0, p1 int, tr8 trFunc) {
	mr := kb.mr
	kc := p1 - p0
	w := (kc + 1) &^ 1
	rows := min(mr, m-i0)
	if rows < mr || w != kc {
		clear(dst[:w*mr])
	}
	if !a.t && kb.cvt != nil && tr8 != nil && mr == 8 && rows == 8 && kc >= 16 && kc <= kcBF16 {
		// Round 8 rows to bf16 with the vector conversion, then transpose
		// them as 32-bit pairs.
		tb := getBuf[uint16](8 * kcBF16)
		defer putBuf(tb)
		tmp := tb.s
		k16 := kc &^ 15
		for i := 0; i < 8; i++ {
			src := a.f[(i0+i)*a.ld+p0 : (i0+i)*a.ld+p1]
			t := tmp[i*kc : (i+1)*kc]
			kb.cvt(&t[0], &src[0], k16)
			for kk := k16; kk < kc; kk++ {
				t[kk] = tensor.F32ToBF16(src[kk])
			}
		}
		q8 := 0
		if kc%2 == 0 {
			q8 = (kc / 2) &^ 7
			tr8((*float32)(unsafe.Pointer(&dst[0])), 8, (*float32)(unsafe.Pointer(&tmp[0])), kc/2, q8/8)
		}
		for q := q8; 2*q < kc; q++ {
			for i := 0; i < 8; i++ {
				dst[(q*8+i)*2] = tmp[i*kc+2*q]
				if 2*q+1 < kc {
					dst[(q*8+i)*2+1] = tmp[i*kc+2*q+1]
				}
			}
		}
		return
	}
	if !a.t {
		for i := 0; i < rows; i++ {
			src := a.f[(i0+i)*a.ld+p0 : (i0+i)*a.ld+p1]
			d := dst[2*i:]
			q := 0
			for ; q+1 < kc; q += 2 {
				d[q*mr] = tensor.F32ToBF16(src[q])
				d[q*mr+1] = tensor.F32ToBF16(src[q+1])
			}
			if q < kc {
				d[q*mr] = tensor.F32ToBF16(src[q])
			}
		}
		return
	}
	for kk := 0; kk < kc; kk++ {
		o := (p0+kk)*a.ld + i0
		d := dst[(kk>>1)*mr*2+kk&1:]
		for i, v := range a.f[o : o+rows] {
			d[2*i] = tensor.F32ToBF16(v)
		}
	}
}

// packBBF16 packs columns [j0, j0+nr) of op(B) (bf16) for k in [p0, p1)
// as pairs: element (kk, j) at ((kk/2)*nr+j)*2 + kk%2.
func packBBF16(dst []uint16, b operand, n int, kb *bf16Kernel, j0, p0, p1 int, tr8 trFunc) {
	nr := kb.nr
	kc := p1 - p0
	w := (kc + 1) &^ 1
	cols := min(nr, n-j0)
	if cols < nr || w != kc {
		clear(dst[:w*nr])
	}
	if !b.t {
		kk0 := 0
		if c16 := cols &^ 15; kb.il != nil && c16 > 0 {
			// Interleave pairs of rows with vectors; the odd tail row
			// and the columns past c16 go through the loop below.
			for ; kk0+1 < kc; kk0 += 2 {
				o := (p0+kk0)*b.ld + j0
				kb.il(&dst[kk0*nr], &b.h[o], &b.h[o+b.ld], c16)
				for j := c16; j < cols; j++ {
					dst[kk0*nr+2*j] = b.h[o+j]
					dst[kk0*nr+2*j+1] = b.h[o+b.ld+j]
				}
			}
		}
		for kk := kk0; kk < kc; kk++ {
			o := (p0+kk)*b.ld + j0
			d := dst[(kk>>1)*nr*2+kk&1:]
			for j, h := range b.h[o : o+cols] {
				d[2*j] = h
			}
		}
		return
	}
	// Pairs of k are adjacent in a row of b: transpose them as 32-bit
	// words when they are aligned to even offsets.
	j8, q8 := 0, 0
	if tr8 != nil && b.ld%2 == 0 && p0%2 == 0 && kc >= 16 {
		j8, q8 = cols&^7, (kc/2)&^7
		for j := 0; j < j8; j += 8 {
			tr8((*float32)(unsafe.Pointer(&dst[2*j])), nr,
				(*float32)(unsafe.Pointer(&b.h[(j0+j)*b.ld+p0])), b.ld/2, q8/8)
		}
	}
	for j := 0; j < cols; j++ {
		src := b.h[(j0+j)*b.ld+p0 : (j0+j)*b.ld+p1]
		d := dst[2*j:]
		q := 0
		if j < j8 {
			q = 2 * q8
		}
		if q >= kc {
			continue
		}
		for ; q+1 < kc; q += 2 {
			d[q*nr] = src[q]
			d[q*nr+1] = src[q+1]
		}
		if q < kc {
			d[q*nr] = src[q]
		}
	}
}
