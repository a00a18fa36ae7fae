package cpu

import (
	"unsafe"

	"hone/compute"
	"hone/quant"
	"hone/tensor"
)

// Products with an NF4 weight. The GEMM's packing of op(B) decodes the
// 4-bit codes and block scales straight into the packed panel layout, so
// that no dequantised copy of the weight (not even a tile of it) is ever
// written and read back: each packed panel is decoded from the codes once
// per product and k block, exactly where the bf16 product would have
// copied it from a bf16 weight. Other quantised formats go through
// compute.MatMulDequant.

var _ compute.QuantMatMuler = (*Engine)(nil)

// kcNF4BF16 and kcNF4F32 are the largest k blocks of NF4 products (bf16
// pairs and float32). An NF4 product with b stored [n, k] picks k blocks
// that start on a 64-weight block of every row (see nf4KC), which may be
// somewhat longer than kcBF16.
const (
	kcNF4BF16 = 1024
	kcNF4F32  = 512
)

// MatMulQuant computes a·op(b) into c, or adds it when acc is set, for a
// quantised weight b ([n, k] with tb, a linear layer's forward; [k, n]
// without, its input gradient); a and c are F32. An NF4 b is multiplied
// with the packed GEMM whose packing decodes the codes into the panels: in
// bf16 with fp32 accumulation when b.ComputeDType is BF16 and the CPU has
// AVX512_BF16 (a rounded to bf16, as MatMul does with a BF16 b, here for
// any number of rows: there is no unpacked few-row path), otherwise
// in float32 (weights rounded to bf16 first when ComputeDType is BF16, so
// that the result is MatMul's by the bf16 weight). Other formats go tile by
// tile through compute.MatMulDequant. See compute.QuantMatMuler.
func (e *Engine) MatMulQuant(c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool) {
	const op = "MatMulQuant"
	cv, av := f32(op, "c", c), f32(op, "a", a)
	if b == nil {
		fail(op, "b is nil")
	}
	m, k, n := a.Rows(), a.Cols(), c.Cols()
	bk, bn := b.Rows, b.Cols
	if tb {
		bk, bn = b.Cols, b.Rows
	}
	if c.Rows() != m || bk != k || bn != n {
		fail(op, "a %v, b [%d %d] (tb=%v), c %v do not fit", a, b.Rows, b.Cols, tb, c)
	}
	q := b.NF4
	if q == nil || q.N != b.Rows*b.Cols || b.ComputeDType != tensor.F32 && b.ComputeDType != tensor.BF16 {
		compute.MatMulDequant(e, c, a, b, tb, acc)
		return
	}
	s := &nf4B{q: q, ld: b.Cols, tb: tb, round: b.ComputeDType == tensor.BF16}
	e.nf4gemm(m, n, k, av, k, s, 0, cv, n, acc)
}

// nf4B is an NF4 weight as the B operand of a product: stored row-major
// with ld columns, [n, k] when tb is set, else [k, n]. round makes its
// values bf16 (b.ComputeDType BF16).
type nf4B struct {
	q     *quant.NF4
	ld    int
	tb    bool
	round bool
}

// nf4gemm computes C (m x n, row stride ldc) = A·op(B)[k0:k0+k] (or adds it
// when acc is set) for A m x k float32 with row stride lda. Like gemm, it
// bounds the packed A by splitting k (a long product) or the rows.
func (e *Engine) nf4gemm(m, n, k int, a []float32, lda int, s *nf4B, k0 int, c []float32, ldc int, acc bool) {
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
	bf := s.round && e.kern.bf16 != nil
	kc := kcNF4F32
	if bf {
		kc = kcNF4BF16
	}
	mc := max(64, packABytes/4/k/64*64)
	if m > mc && k > 2*kc {
		kk := max(kc, packABytes/4/((m+63)/64*64)/kc*kc)
		for p0 := 0; p0 < k; p0 += kk {
			e.nf4gemm(m, n, min(kk, k-p0), a[p0:], lda, s, k0+p0, c, ldc, acc || p0 > 0)
		}
		return
	}
	if s.tb {
		kc = nf4KC(k, k0, s.ld, s.q.BlockSize, kc)
	} else if bf {
		kc = kcBF16
	} else {
		kc = kcF32
	}
	for i0 := 0; i0 < m; i0 += mc {
		e.nf4packed(min(mc, m-i0), n, k, a[i0*lda:], lda, s, k0, kc, c[i0*ldc:], ldc, acc)
	}
}

// nf4KC returns the k block for a product by b stored [n, ld] over columns
// [k0, k0+k): one that makes every k block of every row start on a block
// of the NF4 codes (so that the packing decodes whole blocks), if there is
// one between half and all of kcMax; otherwise kcMax (k itself when it is
// at most kcMax: one block).
func nf4KC(k, k0, ld, bs, kcMax int) int {
	if k <= kcMax {
		return k
	}
	if ld%bs != 0 || k0%bs != 0 || k%bs != 0 {
		return kcMax
	}
	nbk := k / bs
	for nb := (k + kcMax - 1) / kcMax; nb <= nbk && k/nb >= kcMax/2; nb++ {
		if nbk%nb == 0 {
			return k / nb
		}
	}
	return kcMax
}

// nf4packed is nf4gemm for one block of at most mc rows, through a plan
// whose packB decodes b.
func (e *Engine) nf4packed(m, n, k int, a []float32, lda int, s *nf4B, k0, kc int, c []float32, ldc int, acc bool) {
	ao := operand{f: a, ld: lda}
	tr8 := e.kern.tr8
	if kb := e.kern.bf16; s.round && kb != nil {
		fast := nf4Asm && kb.nr == 48
		pl := &plan[uint16]{
			m: m, n: n, k: k, mr: kb.mr, nr: kb.nr, step: 2, kc: kc,
			packA: func(dst []uint16, i0, p0, p1 int) { packABF16(dst, ao, m, kb, i0, p0, p1, tr8) },
			packB: func(dst []uint16, j0, p0, p1 int) { s.packBF16(dst, n, kb.nr, j0, k0+p0, k0+p1, tr8, fast) },
			kern:  kb.fn,
		}
		pl.run(e, c, ldc, acc)
		return
	}
	kf := e.kern.f32
	pl := &plan[float32]{
		m: m, n: n, k: k, mr: kf.mr, nr: kf.nr, step: 1, kc: kc,
		packA: func(dst []float32, i0, p0, p1 int) { packAF32(dst, ao, m, kf.mr, i0, p0, p1, tr8) },
		packB: func(dst []float32, j0, p0, p1 int) { s.packF32(dst, n, kf.nr, j0, k0+p0, k0+p1, tr8) },
		kern:  kf.fn,
	}
	pl.run(e, c, ldc, acc)
}

// packBF16 packs columns [j0, j0+nr) of op(B) for k in [p0, p1) as bf16
// pairs, packBBF16's layout: element (kk, j) at ((kk/2)*nr+j)*2 + kk%2.
// fast selects the assembly decoders.
func (s *nf4B) packBF16(dst []uint16, n, nr, j0, p0, p1 int, tr8 trFunc, fast bool) {
	kc := p1 - p0
	w := (kc + 1) &^ 1
	cols := min(nr, n-j0)
	if cols < nr || w != kc {
		clear(dst[:w*nr])
	}
	q := s.q
	if !s.tb {
		// b is [k, n]: row p0+kk of b holds the cols values of pair
		// kk/2's half kk%2, contiguous.
		kk := 0
		if fast && q.BlockSize == 64 && s.ld%64 == 0 {
			kk = nf4PairsBF16Go(dst, q, s.ld, j0, cols, p0, kc/2)
		}
		if kk < kc {
			tb := getBuf[uint16](cols)
			defer putBuf(tb)
			row := tb.s
			for ; kk < kc; kk++ {
				nf4DecodeBF16(row, q, (p0+kk)*s.ld+j0, fast)
				d := dst[(kk>>1)*nr*2+kk&1:]
				for j, h := range row {
					d[2*j] = h
				}
			}
		}
		return
	}
	// b is [n, k]: decode 8 columns (rows of b) at a time into a
	// contiguous scratch, then transpose their pairs as 32-bit words.
	tb := getBuf[uint16](8 * w)
	defer putBuf(tb)
	tmp := tb.s
	for jg := 0; jg < cols; jg += 8 {
		r := min(8, cols-jg)
		for i := 0; i < r; i++ {
			row := tmp[i*w : (i+1)*w]
			nf4DecodeBF16(row[:kc], q, (j0+jg+i)*s.ld+p0, fast)
			if w != kc {
				row[kc] = 0
			}
		}
		q8 := 0
		if r == 8 && tr8 != nil {
			q8 = (w / 2) &^ 7
			if q8 > 0 {
				tr8((*float32)(unsafe.Pointer(&dst[2*jg])), nr, (*float32)(unsafe.Pointer(&tmp[0])), w/2, q8/8)
			}
		}
		for i := 0; i < r; i++ {
			src := tmp[i*w : (i+1)*w]
			d := dst[2*(jg+i):]
			for p := q8; p < w/2; p++ {
				d[p*nr*2] = src[2*p]
				d[p*nr*2+1] = src[2*p+1]
			}
		}
	}
}

// packF32 packs columns [j0, j0+nr) of op(B) for k in [p0, p1) in float32,
// packBF32's layout: element (kk, j) at kk*nr+j.
func (s *nf4B) packF32(dst []float32, n, nr, j0, p0, p1 int, tr8 trFunc) {
	kc := p1 - p0
	cols := min(nr, n-j0)
	if cols < nr {
		clear(dst[:kc*nr])
	}
	q := s.q
	if !s.tb {
		for kk := 0; kk < kc; kk++ {
			nf4DecodeF32(dst[kk*nr:kk*nr+cols], q, (p0+kk)*s.ld+j0, s.round)
		}
		return
	}
	tb := getBuf[float32](8 * kc)
	defer putBuf(tb)
	tmp := tb.s
	for jg := 0; jg < cols; jg += 8 {
		r := min(8, cols-jg)
		for i := 0; i < r; i++ {
			nf4DecodeF32(tmp[i*kc:(i+1)*kc], q, (j0+jg+i)*s.ld+p0, s.round)
		}
		k8 := 0
		if r == 8 && tr8 != nil {
			k8 = kc &^ 7
			if k8 > 0 {
				tr8(&dst[jg], nr, &tmp[0], kc, k8/8)
			}
		}
		for i := 0; i < r; i++ {
			src := tmp[i*kc : (i+1)*kc]
			for kk := k8; kk < kc; kk++ {
				dst[kk*nr+jg+i] = src[kk]
			}
		}
	}
}

// nf4DecodeF32 writes the len(dst) weights of q from flat index lo on:
// NF4Code[code]·scale in float32 (quant.Matrix.DequantizeRows' values),
// rounded to bf16 when round is set (DequantizeRowsBF16's).
func nf4DecodeF32(dst []float32, q *quant.NF4, lo int, round bool) {
	bs := q.BlockSize
	hi := lo + len(dst)
	var table [16]float32
	for i := lo; i < hi; {
		b := i / bs
		e := min(hi, (b+1)*bs)
		sc := q.Scale(b)
		for c := range table {
			v := quant.NF4Code[c] * sc
			if round {
				v = tensor.BF16ToF32(tensor.F32ToBF16(v))
			}
			table[c] = v
		}
		unpackNF4(dst[i-lo:e-lo], q.Packed[i>>1:(e+1)>>1], i&1 == 1, &table)
		i = e
	}
}

// unpackNF4 sets d to the table values of the 4-bit codes in p, two a byte
// (high nibble first), starting at the low nibble of p[0] when odd.
func unpackNF4[T float32 | uint16](d []T, p []byte, odd bool, table *[16]T) {
	j := 0
	if odd && len(d) > 0 {
		d[0] = table[p[0]&15]
		p = p[1:]
		j = 1
	}
	for ; j+1 < len(d); j += 2 {
		x := p[0]
		p = p[1:]
		d[j] = table[x>>4]
		d[j+1] = table[x&15]
	}
	if j < len(d) {
		d[j] = table[p[0]>>4]
	}
}

// nf4DecodeBF16 writes the len(dst) weights of q from flat index lo on as
// bf16 (DequantizeRowsBF16's values). fast decodes the whole blocks of 64
// with the assembly decoder.
func nf4DecodeBF16(dst []uint16, q *quant.NF4, lo int, fast bool) {
	bs := q.BlockSize
	hi := lo + len(dst)
	var table [16]uint16
	for i := lo; i < hi; {
		b := i / bs
		if fast && bs == 64 && i%64 == 0 && hi-i >= 64 {
			nb := (hi - i) / 64
			nf4BlocksBF16Go(dst[i-lo:i-lo+nb*64], q, b, nb)
			i += nb * 64
			continue
		}
		e := min(hi, (b+1)*bs)
		sc := q.Scale(b)
		for c := range table {
			table[c] = tensor.F32ToBF16(quant.NF4Code[c] * sc)
		}
		unpackNF4(dst[i-lo:e-lo], q.Packed[i>>1:(e+1)>>1], i&1 == 1, &table)
		i = e
	}
}

// nf4Scales writes the scales of blocks [b0, b0+len(dst)) into dst.
func nf4Scales(dst []float32, q *quant.NF4, b0 int) {
	if !q.Nested {
		copy(dst, q.Absmax[b0:])
		return
	}
	for i := range dst {
		b := b0 + i
		dst[i] = quant.DynamicMap[q.QAbsmax[b]]*q.Absmax2[b/quant.NF4NestedBlockSize] + q.Offset
	}
}

// nf4BlocksBF16Go decodes nb whole blocks of 64 from block b0 on into dst
// (64·nb bf16) with the assembly decoder, the scales computed here in
// batches.
func nf4BlocksBF16Go(dst []uint16, q *quant.NF4, b0, nb int) {
	var sc [64]float32
	for i := 0; i < nb; i += len(sc) {
		c := min(len(sc), nb-i)
		nf4Scales(sc[:c], q, b0+i)
		d := dst[i*64 : (i+c)*64]
		p := q.Packed[(b0+i)*32 : (b0+i+c)*32]
		nf4BlocksBF16(&d[0], &p[0], &sc[0], c, &nf4K)
	}
}

// nf4PairArgs holds the per-panel constants of nf4PairsBF16.
type nf4PairArgs struct {
	// off holds, for each 16-column group and word of the index vector
	// (dword j: low word row kk, high word row kk+1, column 16g+j), the
	// table offset: 16 for a column in the row's second block, plus 32
	// for the second row.
	off [3][32]uint16
	// bmask selects the bytes of a row's codes; cmask (16 bits a group)
	// the columns of the panel.
	bmask, cmask uint64
}

// nf4PairsBF16Go packs npairs pairs of rows of b [k, ld] (ld a multiple of
// 64, blocks of 64) from row p0 on, columns [j0, j0+cols), into an
// nr = 48 bf16 panel with the assembly decoder, and returns the rows
// packed (2·npairs).
func nf4PairsBF16Go(dst []uint16, q *quant.NF4, ld, j0, cols, p0, npairs int) int {
	if npairs == 0 {
		return 0
	}
	var args nf4PairArgs
	// The cols values of a row span the row's block holding j0 and,
	// when they cross it, the next one from column bnd on.
	bnd := 64 - j0%64
	for g := range args.off {
		for w := range args.off[g] {
			o := uint16(32 * (w & 1))
			if 16*g+w/2 >= bnd {
				o += 16
			}
			args.off[g][w] = o
		}
	}
	args.bmask = 1<<((cols+1)/2) - 1
	args.cmask = 1<<cols - 1
	straddle := bnd < cols
	var sc [4 * 64]float32
	bpr := ld / 64 // blocks a row
	for i := 0; i < npairs; i += 64 {
		c := min(64, npairs-i)
		for r := 0; r < 2*c; r++ {
			b := (p0+2*i+r)*bpr + j0/64
			nf4Scales(sc[2*r:2*r+1], q, b)
			if straddle {
				nf4Scales(sc[2*r+1:2*r+2], q, b+1)
			}
		}
		o := (p0+2*i)*ld + j0
		nf4PairsBF16(&dst[i*48*2], &q.Packed[o/2], ld/2, &sc[0], c, &args, &nf4K)
	}
	return 2 * npairs
}

// nf4Consts are the constants of the assembly decoders.
type nf4Consts struct {
	codes [16]float32 // quant.NF4Code
	// spread[g] moves the code bytes of columns 16g..16g+15 of two rows
	// (bytes 0..31 and 32..63 of the source) into bytes 0 and 2 of dword
	// j: the byte holding column 16g+j of each row.
	spread [3][64]uint8
	// shift is 4 for the words of even columns (their code is the high
	// nibble), 0 for odd ones.
	shift [32]uint16
}

var nf4K = func() nf4Consts {
	var k nf4Consts
	k.codes = quant.NF4Code
	for g := range k.spread {
		for j := 0; j < 16; j++ {
			k.spread[g][4*j] = uint8(8*g + j/2)
			k.spread[g][4*j+2] = uint8(32 + 8*g + j/2)
		}
	}
	for w := range k.shift {
		if (w/2)%2 == 0 {
			k.shift[w] = 4
		}
	}
	return k
}()
