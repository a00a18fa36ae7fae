package compute

import (
	"fmt"
	"runtime"
	"sync"

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

// MatMulQuant computes a·op(b) into c (or adds it, with acc) for a
// quantised weight b, never holding more than a tile of b dequantised:
// through the engine's own QuantMatMuler when it has one, otherwise tile by
// tile — dequantised in parallel to b.ComputeDType (F32 or BF16) — with the
// engine's MatMul.
func MatMulQuant(e Engine, c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool) {
	if q, ok := e.(QuantMatMuler); ok {
		q.MatMulQuant(c, a, b, tb, acc)
		return
	}
	m := a.Rows()
	if a.DType != tensor.F32 || c.DType != tensor.F32 {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, c %v: want F32", a, c))
	}
	if tb && (a.Cols() != b.Cols || c.Rows() != m || c.Cols() != b.Rows) ||
		!tb && (a.Cols() != b.Rows || c.Rows() != m || c.Cols() != b.Cols) {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, b [%d %d] (tb=%v), c %v do not fit", a, b.Rows, b.Cols, tb, c))
	}
	tile := min(quantTileRows, b.Rows)
	wt := tensor.New(b.ComputeDType, tile, b.Cols)
	weights := func(r0, r1 int) *tensor.Tensor {
		w := wt.Slice(0, r1-r0)
		dequantize(b, w, r0, r1)
		return w
	}
	if tb {
		// c[:, r0:r1] = a · b[r0:r1]ᵀ, through a contiguous [m, rows] scratch
		out := tensor.New(tensor.F32, m, tile)
		cv, n := c.F32(), c.Cols()
		for r0 := 0; r0 < b.Rows; r0 += tile {
			r1 := min(r0+tile, b.Rows)
			rows := r1 - r0
			ov := tensor.FromF32(out.F32()[:m*rows], m, rows)
			e.MatMul(ov, a, weights(r0, r1), false, true, false)
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
	if !acc {
		c.Zero()
	}
	av, k := a.F32(), a.Cols()
	blk := make([]float32, m*tile)
	for r0 := 0; r0 < b.Rows; r0 += tile {
		r1 := min(r0+tile, b.Rows)
		rows := r1 - r0
		for i := 0; i < m; i++ {
			copy(blk[i*rows:(i+1)*rows], av[i*k+r0:i*k+r1])
		}
		e.MatMul(c, tensor.FromF32(blk[:m*rows], m, rows), weights(r0, r1), false, false, true)
	}
}

// dequantize fills w with rows [r0, r1) of b, splitting the rows across
// the cores.
func dequantize(b *quant.Matrix, w *tensor.Tensor, r0, r1 int) {
	workers := min(runtime.GOMAXPROCS(0), r1-r0)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		lo := r0 + (r1-r0)*i/workers
		hi := r0 + (r1-r0)*(i+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.DType == tensor.BF16 {
				b.DequantizeRowsBF16(w.BF16()[(lo-r0)*b.Cols:(hi-r0)*b.Cols], lo, hi)
			} else {
				b.DequantizeRows(w.F32()[(lo-r0)*b.Cols:(hi-r0)*b.Cols], lo, hi)
			}
		}()
	}
	wg.Wait()
}
