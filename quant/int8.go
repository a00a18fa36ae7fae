package quant

import (
	"fmt"
	"math"
)

// int8Recip is float32(1/127), the constant bitsandbytes dequantises with.
const int8Recip float32 = 7.874015718698502e-3

// Int8 is a [Rows, Cols] matrix quantised per output channel: row r keeps
// one float32 absmax Scale[r] and int8 codes round(x·127/absmax), as
// bitsandbytes' int8_vectorwise_quant computes them (without LLM.int8's
// outlier columns).
type Int8 struct {
	Rows, Cols int
	Q          []int8    // Rows*Cols codes, row-major
	Scale      []float32 // per-row absmax
}

// QuantizeInt8 quantises the row-major [rows, cols] matrix x row by row.
// Codes are round-half-to-even of x·(127/absmax), computed in float32 as
// torch does; an all-zero row gets scale 0 and codes 0.
func QuantizeInt8(x []float32, rows, cols int) (*Int8, error) {
	if rows < 0 || cols < 0 || rows*cols != len(x) {
		return nil, fmt.Errorf("quant: int8 of %d values as a [%d, %d] matrix", len(x), rows, cols)
	}
	q := &Int8{Rows: rows, Cols: cols, Q: make([]int8, len(x)), Scale: make([]float32, rows)}
	for r := range rows {
		QuantizeInt8Row(q.Q[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], &q.Scale[r])
	}
	return q, nil
}

// QuantizeInt8Row quantises one row x into dst (same length) and stores its
// absmax in *scale.
func QuantizeInt8Row(dst []int8, x []float32, scale *float32) {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	*scale = m
	if m == 0 {
		clear(dst[:len(x)])
		return
	}
	k := 127 / m
	for i, v := range x {
		dst[i] = int8(math.RoundToEven(float64(v * k)))
	}
}

// Dequantize writes the matrix into dst (len >= Rows*Cols).
func (q *Int8) Dequantize(dst []float32) {
	for r := range q.Rows {
		DequantizeInt8Row(dst[r*q.Cols:(r+1)*q.Cols], q.Q[r*q.Cols:(r+1)*q.Cols], q.Scale[r])
	}
}

// DequantizeInt8Row writes codes·scale/127 into dst, as bitsandbytes'
// int8_vectorwise_dequant computes it: (q·scale)·float32(1/127).
func DequantizeInt8Row(dst []float32, codes []int8, scale float32) {
	dst = dst[:len(codes)]
	for i, c := range codes {
		dst[i] = float32(c) * scale * int8Recip
	}
}

// DotInt8Row returns Σ x[i]·w[i] for one quantised row w (codes, scale)
// without dequantising it: the integer codes are summed against x and the
// row scale applied once.
func DotInt8Row(x []float32, codes []int8, scale float32) float32 {
	codes = codes[:len(x)]
	var s0, s1 float32
	i := 0
	for ; i+1 < len(x); i += 2 {
		s0 += x[i] * float32(codes[i])
		s1 += x[i+1] * float32(codes[i+1])
	}
	if i < len(x) {
		s0 += x[i] * float32(codes[i])
	}
	return (s0 + s1) * scale * int8Recip
}
