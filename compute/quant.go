package compute

import (
	"fmt"

	"hone/quant"
	"hone/tensor"
)

// QuantMatMuler is the optional capability of an engine that multiplies by
// an NF4 weight directly, dequantising tiles inside its GEMM.
type QuantMatMuler interface {
	// MatMulQuant is MatMul with b an NF4 matrix [n, k] (tb, a linear
	// layer's forward) or [k, n] (!tb, the input gradient). ta is false.
	MatMulQuant(c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool)
}

// quantTileRows bounds the rows of b dequantised at once by MatMulQuant's
// fallback: a tile of 128 rows of a 4096-wide weight is 2 MiB of float32.
const quantTileRows = 128

// MatMulQuant computes a·op(b) into c (or adds it, with acc) for an NF4
// weight b, never holding more than a tile of b dequantised: through the
// engine's own QuantMatMuler when it has one, otherwise tile by tile with
// the engine's MatMul.
func MatMulQuant(e Engine, c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool) {
	if q, ok := e.(QuantMatMuler); ok {
		q.MatMulQuant(c, a, b, tb, acc)
		return
	}
	m := a.Rows()
	if a.DType != tensor.F32 || c.DType != tensor.F32 {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, c %v: want F32", a, c))
	}
	tile := min(quantTileRows, b.Rows)
	w := make([]float32, tile*b.Cols)
	if tb {
		// c[:, r0:r1] = a · b[r0:r1]ᵀ, through a contiguous [m, rows] scratch
		if a.Cols() != b.Cols || c.Rows() != m || c.Cols() != b.Rows {
			panic(fmt.Sprintf("compute.MatMulQuant: a %v, b [%d %d]ᵀ, c %v do not fit", a, b.Rows, b.Cols, c))
		}
		out := tensor.New(tensor.F32, m, tile)
		cv, n := c.F32(), c.Cols()
		for r0 := 0; r0 < b.Rows; r0 += tile {
			r1 := min(r0+tile, b.Rows)
			rows := r1 - r0
			b.DequantizeRows(w, r0, r1)
			ov := tensor.FromF32(out.F32()[:m*rows], m, rows)
			e.MatMul(ov, a, tensor.FromF32(w[:rows*b.Cols], rows, b.Cols), false, true, false)
			src := ov.F32()
			for i := 0; i < m; i++ {
				dst := cv[i*n+r0 : i*n+r1]
				if acc {
					for j, v := range src[i*rows : (i+1)*rows] {
						dst[j] += v
					}
				} else {
					copy(dst, src[i*rows:(i+1)*rows])
				}
			}
		}
		return
	}
	// c += a[:, r0:r1] · b[r0:r1, :], gathering a's column block
	if a.Cols() != b.Rows || c.Rows() != m || c.Cols() != b.Cols {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, b [%d %d], c %v do not fit", a, b.Rows, b.Cols, c))
	}
	if !acc {
		c.Zero()
	}
	av, k := a.F32(), a.Cols()
	blk := make([]float32, m*tile)
	for r0 := 0; r0 < b.Rows; r0 += tile {
		r1 := min(r0+tile, b.Rows)
		rows := r1 - r0
		b.DequantizeRows(w, r0, r1)
		for i := 0; i < m; i++ {
			copy(blk[i*rows:(i+1)*rows], av[i*k+r0:i*k+r1])
		}
		e.MatMul(c, tensor.FromF32(blk[:m*rows], m, rows), tensor.FromF32(w[:rows*b.Cols], rows, b.Cols), false, false, true)
	}
}
