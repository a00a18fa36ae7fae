package quant

import (
	"fmt"
	"unsafe"

	"hone/tensor"
)

// Formats of a quantised weight matrix, as `hone quantize` names them.
var MatrixFormats = []string{"nf4", "int8", "q8_0", "q4_0"}

// Matrix is a frozen weight matrix [Rows, Cols] (a linear layer's [out, in])
// stored row-major in a quantised format: NF4 (QLoRA's, the only one that
// trains adapters in recipes), int8 per row, or ggml's Q8_0 / Q4_0 blocks.
// Exactly one of NF4, Int8 and Blocks is set.
type Matrix struct {
	Rows, Cols int
	NF4        *NF4
	Int8       *Int8
	Blocks     *Blocks
	// ComputeDType is the dtype tiles are dequantised to for products: F32,
	// or BF16 (bitsandbytes' bnb_4bit_compute_dtype=bfloat16), which runs
	// the engine's bf16 matrix products.
	ComputeDType tensor.DType
}

// Format names the matrix's format ("nf4", "int8", "q8_0" or "q4_0").
func (m *Matrix) Format() string {
	switch {
	case m.NF4 != nil:
		return "nf4"
	case m.Int8 != nil:
		return "int8"
	case m.Blocks.Format == Q8_0:
		return "q8_0"
	case m.Blocks.Format == Q4_0:
		return "q4_0"
	}
	return m.Blocks.Format.String()
}

// QuantizeMatrix quantises a 2-D weight (F32, BF16 or F16) to format: nf4
// (blocks of 64 along the rows, double-quantised scales when double is set,
// as QLoRA does), int8 (one scale per row), q8_0 or q4_0 (blocks of 32;
// the width must be a multiple of 32).
func QuantizeMatrix(w *tensor.Tensor, format string, double bool) (*Matrix, error) {
	if len(w.Shape) != 2 {
		return nil, fmt.Errorf("quant: matrix from %v: want a 2-D weight", w)
	}
	m := &Matrix{Rows: w.Shape[0], Cols: w.Shape[1]}
	var err error
	if format == "nf4" && w.DType == tensor.BF16 {
		// widened a chunk at a time: a 1B model's embedding would take
		// 1 GB in float32
		h := w.BF16()
		m.NF4, err = quantizeNF4(len(h), func(dst []float32, lo int) {
			for i := range dst {
				dst[i] = tensor.BF16ToF32(h[lo+i])
			}
		}, NF4BlockSize, double)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	x := w.ToF32().F32()
	switch format {
	case "nf4":
		m.NF4, err = QuantizeNF4(x, NF4BlockSize, double)
	case "int8":
		m.Int8, err = QuantizeInt8(x, m.Rows, m.Cols)
	case "q8_0", "q4_0":
		f := map[string]Format{"q8_0": Q8_0, "q4_0": Q4_0}[format]
		if m.Cols%f.BlockLen() != 0 {
			return nil, fmt.Errorf("quant: %s needs rows of a multiple of %d weights, have %d", format, f.BlockLen(), m.Cols)
		}
		m.Blocks, err = Quantize(f, x)
	default:
		return nil, fmt.Errorf("quant: unknown matrix format %q (want %v)", format, MatrixFormats)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DequantizeRows writes rows [r0, r1) into dst, (r1-r0)*Cols float32 values.
func (m *Matrix) DequantizeRows(dst []float32, r0, r1 int) {
	lo, hi := r0*m.Cols, r1*m.Cols
	dst = dst[:hi-lo]
	switch {
	case m.Int8 != nil:
		for r := r0; r < r1; r++ {
			DequantizeInt8Row(dst[(r-r0)*m.Cols:(r-r0+1)*m.Cols], m.Int8.Q[r*m.Cols:(r+1)*m.Cols], m.Int8.Scale[r])
		}
	case m.Blocks != nil:
		f := m.Blocks.Format
		rb := f.RowBytes(m.Cols)
		f.DequantizeRow(dst, m.Blocks.Data[r0*rb:r1*rb])
	default:
		bs := m.NF4.BlockSize
		var buf [4096]float32
		for b := lo / bs; b*bs < hi; b++ {
			s, e := b*bs, min((b+1)*bs, m.NF4.N)
			blk := buf[:e-s]
			m.NF4.DequantizeBlock(blk, b)
			from, to := max(s, lo), min(e, hi)
			copy(dst[from-lo:to-lo], blk[from-s:to-s])
		}
	}
}

// DequantizeRowsBF16 writes rows [r0, r1) into dst as bfloat16: each
// weight computed in float32 as DequantizeRows does, then rounded to
// nearest even. For NF4 each block's 16 possible values are computed once.
func (m *Matrix) DequantizeRowsBF16(dst []uint16, r0, r1 int) {
	lo, hi := r0*m.Cols, r1*m.Cols
	dst = dst[:hi-lo]
	if m.NF4 == nil {
		var buf [1024]float32
		for r := r0; r < r1; r += max(1, len(buf)/m.Cols) {
			re := min(r1, r+max(1, len(buf)/m.Cols))
			tmp := buf[:]
			if (re-r)*m.Cols > len(buf) {
				tmp = make([]float32, (re-r)*m.Cols)
			}
			tmp = tmp[:(re-r)*m.Cols]
			m.DequantizeRows(tmp, r, re)
			for i, v := range tmp {
				dst[(r-r0)*m.Cols+i] = tensor.F32ToBF16(v)
			}
		}
		return
	}
	q := m.NF4
	bs := q.BlockSize
	var table [16]uint16
	for b := lo / bs; b*bs < hi; b++ {
		s := q.Scale(b)
		for c := range table {
			table[c] = tensor.F32ToBF16(NF4Code[c] * s)
		}
		from, to := max(b*bs, lo), min((b+1)*bs, hi, q.N)
		i := from
		if i&1 == 1 {
			dst[i-lo] = table[q.Packed[i>>1]&15]
			i++
		}
		for ; i+1 < to; i += 2 {
			p := q.Packed[i>>1]
			dst[i-lo] = table[p>>4]
			dst[i+1-lo] = table[p&15]
		}
		if i < to {
			dst[i-lo] = table[q.Packed[i>>1]>>4]
		}
	}
}

// Dequantize returns the whole matrix as an F32 tensor (merging, export).
func (m *Matrix) Dequantize() *tensor.Tensor {
	t := tensor.New(tensor.F32, m.Rows, m.Cols)
	m.DequantizeRows(t.F32(), 0, m.Rows)
	return t
}

// Bytes is the storage the matrix takes: codes and scales.
func (m *Matrix) Bytes() int {
	switch {
	case m.NF4 != nil:
		return m.NF4.Bytes()
	case m.Int8 != nil:
		return len(m.Int8.Q) + 4*len(m.Int8.Scale)
	}
	return len(m.Blocks.Data)
}

// Tensors returns the matrix as named tensors for a safetensors file, under
// the weight's name: name itself holds the codes, and name+".absmax",
// ".qabsmax", ".absmax2", ".offset" or ".scale" the scales.
func (m *Matrix) Tensors(name string) map[string]*tensor.Tensor {
	u8 := func(b []byte, shape ...int) *tensor.Tensor {
		t, _ := tensor.FromBytes(tensor.U8, b, shape...)
		return t
	}
	out := map[string]*tensor.Tensor{}
	switch {
	case m.NF4 != nil:
		q := m.NF4
		out[name] = u8(q.Packed, len(q.Packed))
		if q.Nested {
			out[name+".qabsmax"] = u8(q.QAbsmax, len(q.QAbsmax))
			out[name+".absmax2"] = tensor.FromF32(q.Absmax2, len(q.Absmax2))
			out[name+".offset"] = tensor.FromF32([]float32{q.Offset}, 1)
		} else {
			out[name+".absmax"] = tensor.FromF32(q.Absmax, len(q.Absmax))
		}
	case m.Int8 != nil:
		codes, _ := tensor.FromBytes(tensor.I8, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(m.Int8.Q))), len(m.Int8.Q)), m.Rows, m.Cols)
		out[name] = codes
		out[name+".scale"] = tensor.FromF32(m.Int8.Scale, m.Rows)
	default:
		out[name] = u8(m.Blocks.Data, m.Rows, m.Blocks.Format.RowBytes(m.Cols))
	}
	return out
}

// Source yields named tensors (a safetensors file or set).
type Source interface {
	Tensor(name string) (*tensor.Tensor, error)
}

// ReadMatrix reads a [rows, cols] matrix of format stored by Tensors under
// name, checking every size.
func ReadMatrix(src Source, name, format string, rows, cols int) (*Matrix, error) {
	get := func(n string, dt tensor.DType, numel int) (*tensor.Tensor, error) {
		t, err := src.Tensor(n)
		if err != nil {
			return nil, err
		}
		if t.DType != dt || t.Numel() != numel {
			return nil, fmt.Errorf("%s is %v, want %v of %d values for a [%d %d] %s matrix", n, t, dt, numel, rows, cols, format)
		}
		return t, nil
	}
	m := &Matrix{Rows: rows, Cols: cols}
	n := rows * cols
	switch format {
	case "nf4":
		codes, err := get(name, tensor.U8, (n+1)/2)
		if err != nil {
			return nil, err
		}
		nb := (n + NF4BlockSize - 1) / NF4BlockSize
		q := &NF4{N: n, BlockSize: NF4BlockSize, Packed: codes.U8()}
		if t, err := src.Tensor(name + ".absmax"); err == nil {
			if t.DType != tensor.F32 || t.Numel() != nb {
				return nil, fmt.Errorf("%s.absmax is %v, want F32 of %d values", name, t, nb)
			}
			q.Absmax = t.F32()
		} else {
			qa, err := get(name+".qabsmax", tensor.U8, nb)
			if err != nil {
				return nil, err
			}
			a2, err := get(name+".absmax2", tensor.F32, (nb+NF4NestedBlockSize-1)/NF4NestedBlockSize)
			if err != nil {
				return nil, err
			}
			off, err := get(name+".offset", tensor.F32, 1)
			if err != nil {
				return nil, err
			}
			q.Nested, q.QAbsmax, q.Absmax2, q.Offset = true, qa.U8(), a2.F32(), off.F32()[0]
		}
		if err := q.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m.NF4 = q
	case "int8":
		codes, err := get(name, tensor.I8, n)
		if err != nil {
			return nil, err
		}
		sc, err := get(name+".scale", tensor.F32, rows)
		if err != nil {
			return nil, err
		}
		q := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(codes.Data))), n)
		m.Int8 = &Int8{Rows: rows, Cols: cols, Q: q, Scale: sc.F32()}
	case "q8_0", "q4_0":
		f := map[string]Format{"q8_0": Q8_0, "q4_0": Q4_0}[format]
		if cols%f.BlockLen() != 0 {
			return nil, fmt.Errorf("%s: %s rows of %d weights are not whole blocks", name, format, cols)
		}
		data, err := get(name, tensor.U8, rows*f.RowBytes(cols))
		if err != nil {
			return nil, err
		}
		b, err := NewBlocks(f, n, data.U8())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m.Blocks = b
	default:
		return nil, fmt.Errorf("unknown quantisation format %q (want %v)", format, MatrixFormats)
	}
	return m, nil
}
