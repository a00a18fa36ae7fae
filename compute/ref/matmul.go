package ref

import "hone/tensor"

// blockRows is how many rows of c the matrix products handle per sweep over
// b, so that a block of c (and of a) stays in cache while each row of b is
// fetched (and, for BF16, widened) once per block rather than once per row.
const blockRows = 64

// MatMul computes c = op(a)·op(b), or c += op(a)·op(b) when acc is set. c is
// [m, n]; op(a) is [m, k], stored [m, k], or [k, m] when ta is set; op(b) is
// [k, n], stored [k, n], or [n, k] when tb is set (a linear layer's weight).
// The products for each element of c are summed over p = 0..k-1 in order,
// in F, whatever the layout.
//
// The backward of c = a·bᵀ (a linear layer) is two more products:
// da += dc·b is MatMul(da, dc, b, m, k, n, false, false, true) and
// db += dcᵀ·a is MatMul(db, dc, a, n, k, m, true, false, true).
func MatMul[F Float](c, a, b []F, m, n, k int, ta, tb, acc bool) {
	rows, cols := k, n
	if tb {
		rows, cols = n, k
	}
	needLen("MatMul", "b", b, rows*cols)
	matMul(c, a, func(r int) []F { return b[r*cols : (r+1)*cols : (r+1)*cols] }, m, n, k, ta, tb, acc)
}

// matMul is MatMul with b given a stored row at a time: row p of b [k, n], or
// row j of b [n, k] when tb is set. The slice bRow returns is only read until
// the next call, so it may be a reused scratch row (a widened BF16 row).
func matMul[F Float](c, a []F, bRow func(r int) []F, m, n, k int, ta, tb, acc bool) {
	needLen("MatMul", "c", c, m*n)
	needLen("MatMul", "a", a, m*k)
	if !acc {
		clear(c[:m*n])
	}
	// aAt returns op(a)[i, p].
	aAt := func(i, p int) F { return a[i*k+p] }
	if ta {
		aAt = func(i, p int) F { return a[p*m+i] }
	}
	for i0 := 0; i0 < m; i0 += blockRows {
		i1 := min(i0+blockRows, m)
		if !tb {
			// c[i, :] += op(a)[i, p] * b[p, :]
			for p := range k {
				bp := bRow(p)[:n]
				for i := i0; i < i1; i++ {
					aip := aAt(i, p)
					ci := c[i*n : (i+1)*n]
					for j, bv := range bp {
						ci[j] += aip * bv
					}
				}
			}
			continue
		}
		// c[i, j] += op(a)[i, :] · b[j, :], the k loop innermost.
		for j := range n {
			bj := bRow(j)[:k]
			for i := i0; i < i1; i++ {
				var s F
				if ta {
					for p, bv := range bj {
						s += a[p*m+i] * bv
					}
				} else {
					ai := a[i*k : (i+1)*k]
					for p, bv := range bj {
						s += ai[p] * bv
					}
				}
				c[i*n+j] += s
			}
		}
	}
}

// AddBias adds bias [n] to every row of y [m, n].
func AddBias[F Float](y, bias []F, m, n int) {
	needLen("AddBias", "y", y, m*n)
	needLen("AddBias", "bias", bias, n)
	for i := range m {
		yi := y[i*n : (i+1)*n]
		for j, b := range bias[:n] {
			yi[j] += b
		}
	}
}

// AddBiasBackward accumulates the column sums of dy [m, n] into dbias [n].
func AddBiasBackward[F Float](dbias, dy []F, m, n int) {
	needLen("AddBiasBackward", "dy", dy, m*n)
	needLen("AddBiasBackward", "dbias", dbias, n)
	for i := range m {
		for j, g := range dy[i*n : (i+1)*n] {
			dbias[j] += g
		}
	}
}

// MatMul computes op(a)·op(b) into c, or adds it when acc is set; a and c are
// F32, b is F32, BF16 or F16 (widened a row at a time). See compute.MatMuler.
func (Engine) MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool) {
	const op = "MatMul"
	cv, av := f32(op, "c", c), f32(op, "a", a)
	m, n := c.Rows(), c.Cols()
	k, am := a.Cols(), a.Rows()
	if ta {
		k, am = a.Rows(), a.Cols()
	}
	need(am == m, op, "a %v (ta=%v) does not give %d rows for c %v", a, ta, m, c)
	if b == nil {
		fail(op, "b is nil")
	}
	bk, bn := b.Rows(), b.Cols()
	rows, cols := k, n
	if tb {
		bk, bn = b.Cols(), b.Rows()
		rows, cols = n, k
	}
	need(bk == k && bn == n, op, "b %v (tb=%v) is not %d x %d for a %v (ta=%v) and c %v", b, tb, k, n, a, ta, c)
	matMul(cv, av, weightRows(op, "b", b, rows, cols), m, n, k, ta, tb, acc)
}

// AddBias adds bias [n] (F32, BF16 or F16) to every row of y [m, n].
func (Engine) AddBias(y, bias *tensor.Tensor) {
	const op = "AddBias"
	yv := f32(op, "y", y)
	bv := weightF32(op, "bias", bias)
	need(len(bv) == y.Cols(), op, "bias %v does not match y %v", bias, y)
	AddBias(yv, bv, y.Rows(), y.Cols())
}

// AddBiasBackward accumulates the column sums of dy [m, n] into dbias [n]; a
// nil dbias is skipped.
func (Engine) AddBiasBackward(dbias, dy *tensor.Tensor) {
	const op = "AddBiasBackward"
	if dbias == nil {
		return
	}
	db, g := f32(op, "dbias", dbias), f32(op, "dy", dy)
	need(len(db) == dy.Cols(), op, "dbias %v does not match dy %v", dbias, dy)
	AddBiasBackward(db, g, dy.Rows(), dy.Cols())
}
