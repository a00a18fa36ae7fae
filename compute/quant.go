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

// quantTileBytes bounds the dequantised tile of MatMulQuant's fallback:
// large enough that the GEMM's packing of the other operand is amortised
// over many rows, small next to the weight (a 2048 x 8192 projection is 32
// MiB in bf16).
const quantTileBytes = 8 << 20

// MatMulQuant computes a·op(b) into c (or adds it, with acc) for a
// quantised weight b, never holding more than a tile of b dequantised:
// through the engine's own QuantMatMuler when it has one, otherwise with
// MatMulDequant.
func MatMulQuant(e Engine, c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool) {
	if q, ok := e.(QuantMatMuler); ok {
		q.MatMulQuant(c, a, b, tb, acc)
		return
	}
	MatMulDequant(e, c, a, b, tb, acc)
}

// MatMulDequant is MatMulQuant through the engine's MatMul, tile by tile:
// rows of b dequantised in parallel to b.ComputeDType (F32 or BF16) into a
// scratch tile of at most 8 MiB, then multiplied. It is the fallback of
// engines without a QuantMatMuler, and of those whose QuantMatMuler does
// not handle b's format.
func MatMulDequant(e Engine, c, a *tensor.Tensor, b *quant.Matrix, tb, acc bool) {
	m := a.Rows()
	if a.DType != tensor.F32 || c.DType != tensor.F32 {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, c %v: want F32", a, c))
	}
	if tb && (a.Cols() != b.Cols || c.Rows() != m || c.Cols() != b.Rows) ||
		!tb && (a.Cols() != b.Rows || c.Rows() != m || c.Cols() != b.Cols) {
		panic(fmt.Sprintf("compute.MatMulQuant: a %v, b [%d %d] (tb=%v), c %v do not fit", a, b.Rows, b.Cols, tb, c))
	}
	tile := min(b.Rows, max(16, quantTileBytes/(b.Cols*b.ComputeDType.Size())))
	wt := scratch(b.ComputeDType, tile, b.Cols)
	defer release(wt)
	weights := func(r0, r1 int) *tensor.Tensor {
		w := wt.Slice(0, r1-r0)
		dequantize(b, w, r0, r1)
		return w
	}
	if tb {
		// c[:, r0:r1] = a · b[r0:r1]ᵀ, through a contiguous [m, rows] scratch
		out := scratch(tensor.F32, m, tile)
		defer release(out)
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
	bt := scratch(tensor.F32, m, tile)
	defer release(bt)
	blk := bt.F32()
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

// scratchPool recycles MatMulQuant's tiles, so that a training step does
// not leave hundreds of megabytes of garbage for the collector.
var scratchPool sync.Pool

// scratch returns a tensor of the given dtype and shape, with storage from
// the pool when a large enough buffer is there (its contents are garbage).
func scratch(dt tensor.DType, rows, cols int) *tensor.Tensor {
	need := rows * cols * dt.Size()
	if p, ok := scratchPool.Get().(*[]byte); ok && cap(*p) >= need {
		t, _ := tensor.FromBytes(dt, (*p)[:need], rows, cols)
		return t
	}
	return tensor.New(dt, rows, cols)
}

// release returns a scratch tensor's storage to the pool.
func release(t *tensor.Tensor) {
	b := t.Data[:cap(t.Data)]
	scratchPool.Put(&b)
}

// EmbedQuant copies row ids[i] of the quantised table into row i of out
// (F32), dequantising only the rows looked up.
func EmbedQuant(e Engine, out *tensor.Tensor, table *quant.Matrix, ids []int32) {
	if out.DType != tensor.F32 || out.Cols() != table.Cols || out.Rows() != len(ids) {
		panic(fmt.Sprintf("compute.EmbedQuant: out %v for %d ids of a [%d %d] table", out, len(ids), table.Rows, table.Cols))
	}
	o := out.F32()
	d := table.Cols
	for i, id := range ids {
		if id < 0 || int(id) >= table.Rows {
			panic(fmt.Sprintf("compute.EmbedQuant: id %d at %d outside the table of %d rows", id, i, table.Rows))
		}
		table.DequantizeRows(o[i*d:(i+1)*d], int(id), int(id)+1)
	}
}
