package quant

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/safetensors"
	"hone/tensor"
)

// mapSource is a Source over named tensors.
type mapSource map[string]*tensor.Tensor

func (m mapSource) Tensor(name string) (*tensor.Tensor, error) {
	if t, ok := m[name]; ok {
		return t, nil
	}
	return nil, os.ErrNotExist
}

// FuzzReadMatrix feeds an arbitrary safetensors file, format and size to
// ReadMatrix, as loading a `hone quantize` folder does. It must not panic;
// a matrix it accepts has the asked format and size, dequantises every
// row, and its Tensors read back into the same matrix.
func FuzzReadMatrix(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := tensor.New(tensor.F32, 4, 64)
	for i := range w.F32() {
		w.F32()[i] = float32(rng.NormFloat64())
	}
	dir := f.TempDir()
	for i, format := range MatrixFormats {
		for _, double := range []bool{false, true} {
			if double && format != "nf4" {
				continue
			}
			m, err := QuantizeMatrix(w, format, double)
			if err != nil {
				f.Fatal(err)
			}
			var named []safetensors.Named
			for n, t := range m.Tensors("mlp.up_proj.weight") {
				named = append(named, safetensors.Named{Name: n, Tensor: t})
			}
			path := filepath.Join(dir, format+".safetensors")
			if err := safetensors.Write(path, named, nil); err != nil {
				f.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, uint8(i), uint16(4), uint16(64))
			f.Add(data, uint8(i), uint16(64), uint16(4))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fi uint8, r, c uint16) {
		st, err := safetensors.OpenBytes("fuzz.safetensors", data)
		if err != nil {
			return
		}
		format := MatrixFormats[int(fi)%len(MatrixFormats)]
		rows, cols := int(r%1025), int(c%1025)
		m, err := ReadMatrix(st, "mlp.up_proj.weight", format, rows, cols)
		if err != nil {
			if !strings.Contains(err.Error(), "mlp.up_proj.weight") {
				t.Fatalf("error %q does not name the tensor", err)
			}
			return
		}
		if m.Rows != rows || m.Cols != cols || m.Format() != format {
			t.Fatalf("ReadMatrix(%s, %d, %d) = %s [%d, %d]", format, rows, cols, m.Format(), m.Rows, m.Cols)
		}
		full := m.Dequantize()
		if full.Numel() != rows*cols {
			t.Fatalf("Dequantize gave %d values, want %d", full.Numel(), rows*cols)
		}
		if rows > 1 {
			part := make([]float32, cols)
			m.DequantizeRows(part, rows-1, rows)
			for i, v := range part {
				if g := full.F32()[(rows-1)*cols+i]; v != g && !(v != v && g != g) {
					t.Fatalf("last row element %d: DequantizeRows %v, Dequantize %v", i, v, g)
				}
			}
			bf := make([]uint16, cols)
			m.DequantizeRowsBF16(bf, rows-1, rows)
		}
		again, err := ReadMatrix(mapSource(m.Tensors("mlp.up_proj.weight")), "mlp.up_proj.weight", format, rows, cols)
		if err != nil {
			t.Fatalf("reading the matrix's own tensors: %v", err)
		}
		back := again.Dequantize()
		if string(back.Data) != string(full.Data) {
			t.Fatal("the matrix's own tensors read back to other values")
		}
	})
}
