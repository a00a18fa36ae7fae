package quant

import (
	"fmt"

	"hone/tensor"
)

// Matrix is a frozen weight matrix [Rows, Cols] (a linear layer's [out, in])
// stored row-major as NF4: what QLoRA keeps of the base model's projections.
type Matrix struct {
	Rows, Cols int
	Q          *NF4
}

// QuantizeMatrix quantises a 2-D weight (F32, BF16 or F16) to NF4 in blocks
// of 64 along its rows, with double quantisation of the scales when double
// is set, as QLoRA does.
func QuantizeMatrix(w *tensor.Tensor, double bool) (*Matrix, error) {
	if len(w.Shape) != 2 {
		return nil, fmt.Errorf("quant: NF4 matrix from %v: want a 2-D weight", w)
	}
	q, err := QuantizeNF4(w.ToF32().F32(), NF4BlockSize, double)
	if err != nil {
		return nil, err
	}
	return &Matrix{Rows: w.Shape[0], Cols: w.Shape[1], Q: q}, nil
}

// DequantizeRows writes rows [r0, r1) into dst, (r1-r0)*Cols float32 values.
func (m *Matrix) DequantizeRows(dst []float32, r0, r1 int) {
	lo, hi := r0*m.Cols, r1*m.Cols
	dst = dst[:hi-lo]
	bs := m.Q.BlockSize
	var buf [4096]float32
	for b := lo / bs; b*bs < hi; b++ {
		s, e := b*bs, min((b+1)*bs, m.Q.N)
		blk := buf[:e-s]
		m.Q.DequantizeBlock(blk, b)
		from, to := max(s, lo), min(e, hi)
		copy(dst[from-lo:to-lo], blk[from-s:to-s])
	}
}

// Dequantize returns the whole matrix as an F32 tensor (merging, export).
func (m *Matrix) Dequantize() *tensor.Tensor {
	t := tensor.New(tensor.F32, m.Rows, m.Cols)
	m.Q.Dequantize(t.F32())
	return t
}

// Bytes is the storage the matrix takes: codes and scales.
func (m *Matrix) Bytes() int { return m.Q.Bytes() }
