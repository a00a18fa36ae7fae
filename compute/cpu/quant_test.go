package cpu

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/quant"
	"hone/tensor"
)

// nf4Matrix quantises a random rows x cols weight to NF4.
func nf4Matrix(t testing.TB, seed uint64, rows, cols int, double bool, dt tensor.DType) *quant.Matrix {
	t.Helper()
	q, err := quant.QuantizeMatrix(randT(newRand(seed), rows, cols), "nf4", double)
	if err != nil {
		t.Fatal(err)
	}
	q.ComputeDType = dt
	return q
}

// withAsm runs f with the assembly NF4 decoders on and, where they exist,
// off.
func withAsm(t *testing.T, f func(t *testing.T, asm bool)) {
	defer func(v bool) { nf4Asm = v }(nf4Asm)
	for _, asm := range []bool{false, true} {
		if asm && !nf4Asm {
			continue
		}
		nf4Asm = asm
		f(t, asm)
	}
}

// TestMatMulQuantNaive checks the fused NF4 product against the float64
// product by the dequantised weight (its bf16 rounding with a BF16 compute
// dtype; a rounded to bf16 too where the engine multiplies in bf16), for
// both layouts, acc, plain and double-quantised scales, on awkward sizes,
// with every kernel set and with and without the assembly decoders.
func TestMatMulQuantNaive(t *testing.T) {
	ks := []int{64, 640, 1344}
	if testing.Short() {
		ks = ks[:2]
	}
	testMatMulQuantNaive(t, []int{1, 7, 65}, []int{1, 47, 49, 577}, ks)
}

// TestMatMulQuantRowBlocks is TestMatMulQuantNaive with a packing budget so
// small that the products are split into blocks of rows or along k.
func TestMatMulQuantRowBlocks(t *testing.T) {
	defer func(v int) { packABytes = v }(packABytes)
	packABytes = 1
	// 65 rows: two blocks of rows, or parts of k (k > 2 k blocks)
	testMatMulQuantNaive(t, []int{65}, []int{49}, []int{192, 1344, 2112})
}

func testMatMulQuantNaive(t *testing.T, ms, ns, ks []int) {
	defer func(v bool) { nf4Asm = v }(nf4Asm)
	asms := []bool{false}
	if nf4Asm {
		asms = append(asms, true)
	}
	var es []*Engine
	for _, e := range engines(t) {
		if e.threads == 1 || e.kern.name == "avx512" {
			es = append(es, e) // the threads matter to the plan, not to the decoders
		}
	}
	r := newRand(11)
	seed := uint64(100)
	for _, m := range ms {
		for _, n := range ns {
			for _, k := range ks {
				for v := 0; v < 16; v++ {
					tb, acc, double := v&1 != 0, v&2 != 0, v&4 != 0
					dt := tensor.F32
					if v&8 != 0 {
						dt = tensor.BF16
					}
					seed++
					var q *quant.Matrix
					if tb {
						q = nf4Matrix(t, seed, n, k, double, dt)
					} else {
						q = nf4Matrix(t, seed, k, n, double, dt)
					}
					a := randT(r, m, k)
					c := randT(r, m, n)
					c0 := to64(c)
					a64, b64 := to64(a), to64(q.Dequantize())
					if dt == tensor.BF16 {
						b64 = bf16Round(b64)
					}
					want, mag := naive(a64, b64, m, n, k, false, tb)
					// the bf16 mode rounds a to bf16 too
					var want16, mag16 []float64
					if dt == tensor.BF16 {
						want16, mag16 = naive(bf16Round(a64), b64, m, n, k, false, tb)
					}
					for _, e := range es {
						for _, asm := range asms {
							nf4Asm = asm
							got := c.Clone()
							e.MatMulQuant(got, a, q, tb, acc)
							name := fmt.Sprintf("%s (%d threads) asm=%v MatMulQuant(m=%d n=%d k=%d tb=%v acc=%v double=%v %v)",
								e.Name(), e.threads, asm, m, n, k, tb, acc, double, dt)
							if dt == tensor.BF16 && e.BF16Native() {
								checkNaive(t, name, got.F32(), want16, mag16, c0, acc, n, k)
							} else {
								checkNaive(t, name, got.F32(), want, mag, c0, acc, n, k)
							}
						}
					}
				}
			}
		}
	}
}

// TestMatMulQuantBlockSizes: NF4 blocks of other sizes than 64 (which
// bitsandbytes allows), crossing the rows of b, take the Go decoders.
func TestMatMulQuantBlockSizes(t *testing.T) {
	e := New(2)
	defer e.Close()
	r := newRand(14)
	for _, bs := range []int{32, 128, 256} {
		for v := 0; v < 8; v++ {
			tb, double := v&1 != 0, v&2 != 0
			dt := tensor.F32
			if v&4 != 0 {
				dt = tensor.BF16
			}
			m, n, k := 9, 50, 96
			rows, cols := k, n
			if tb {
				rows, cols = n, k
			}
			nf, err := quant.QuantizeNF4(randT(r, rows, cols).F32(), bs, double)
			if err != nil {
				t.Fatal(err)
			}
			q := &quant.Matrix{Rows: rows, Cols: cols, NF4: nf, ComputeDType: dt}
			a := randT(r, m, k)
			a64, b64 := to64(a), to64(q.Dequantize())
			if dt == tensor.BF16 {
				b64 = bf16Round(b64)
				if e.BF16Native() {
					a64 = bf16Round(a64)
				}
			}
			want, mag := naive(a64, b64, m, n, k, false, tb)
			got := tensor.New(tensor.F32, m, n)
			e.MatMulQuant(got, a, q, tb, false)
			name := fmt.Sprintf("MatMulQuant(block %d, tb=%v double=%v %v)", bs, tb, double, dt)
			checkNaive(t, name, got.F32(), want, mag, nil, false, n, k)
		}
	}
}

// checkNaive compares got with want (+ c0 with acc) within k float32
// roundings of the magnitude (the naive products of gemm_test.go and
// quant_test.go).
func checkNaive(t *testing.T, name string, got []float32, want, mag, c0 []float64, acc bool, n, k int) {
	t.Helper()
	tol := 1e-6 * float64(k+4)
	for i := range want {
		w := want[i]
		if acc {
			w += c0[i]
		}
		bound := tol * (mag[i] + math.Abs(w) + 1e-30)
		if acc {
			bound += tol * math.Abs(c0[i])
		}
		if d := math.Abs(float64(got[i]) - w); !(d <= bound) {
			t.Fatalf("%s[%d,%d] = %g, want %g (|diff| %.3g > %.3g)", name, i/n, i%n, got[i], w, d, bound)
		}
	}
}

// TestMatMulQuantMatchesDequant compares the fused product with
// compute.MatMulDequant (dequantised tiles through MatMul) on the engine,
// at a size where both take the packed bf16 path.
func TestMatMulQuantMatchesDequant(t *testing.T) {
	e := New(2)
	defer e.Close()
	r := newRand(12)
	for _, tb := range []bool{true, false} {
		for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
			m, n, k := 37, 301, 448
			q := nf4Matrix(t, 77, n, k, true, dt)
			if !tb {
				q = nf4Matrix(t, 78, k, n, true, dt)
			}
			a := randT(r, m, k)
			got, want := tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, n)
			e.MatMulQuant(got, a, q, tb, false)
			compute.MatMulDequant(e, want, a, q, tb, false)
			for i, w := range want.F32() {
				if d := math.Abs(float64(got.F32()[i] - w)); d > 1e-4*math.Sqrt(float64(k)) {
					t.Fatalf("MatMulQuant(tb=%v %v)[%d] = %g, MatMulDequant gives %g", tb, dt, i, got.F32()[i], w)
				}
			}
		}
	}
}

// TestMatMulQuantOtherFormats: formats other than NF4 go through
// compute.MatMulDequant and give the reference engine's product.
func TestMatMulQuantOtherFormats(t *testing.T) {
	e := New(2)
	defer e.Close()
	r := newRand(13)
	for _, format := range []string{"int8", "q8_0", "q4_0"} {
		m, n, k := 9, 70, 128
		q, err := quant.QuantizeMatrix(randT(r, n, k), format, false)
		if err != nil {
			t.Fatal(err)
		}
		a := randT(r, m, k)
		got, want := tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, n)
		e.MatMulQuant(got, a, q, true, false)
		ref.Engine{}.MatMul(want, a, q.Dequantize(), false, true, false)
		for i, w := range want.F32() {
			if d := math.Abs(float64(got.F32()[i] - w)); d > 1e-4*math.Sqrt(float64(k)) {
				t.Fatalf("MatMulQuant(%s)[%d] = %g, want %g", format, i, got.F32()[i], w)
			}
		}
	}
}

// TestNF4PackFastExact: the assembly decoders pack exactly the panels that
// the Go decoders do (bit for bit), for both layouts, panels at and off the
// block boundaries, edge panels and odd k ranges, plain and
// double-quantised scales.
func TestNF4PackFastExact(t *testing.T) {
	if !nf4Asm {
		t.Skip("no assembly NF4 decoders on this CPU")
	}
	const nr = 48
	seed := uint64(500)
	for _, double := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, sz := range [][2]int{{128, 192}, {384, 1344}, {77, 640}, {1, 64}, {250, 2048}} {
				// b is [rows, cols]; op(B) is k x n
				rows, cols := sz[0], sz[1]
				seed++
				q := nf4Matrix(t, seed, rows, cols, double, tensor.BF16)
				s := &nf4B{q: q.NF4, ld: cols, tb: tb, round: true}
				n, k := cols, rows
				if tb {
					n, k = rows, cols
				}
				for j0 := 0; j0 < n; j0 += nr {
					for _, pr := range [][2]int{{0, k}, {0, min(k, 64)}, {min(k, 2), min(k, 640)}, {k / 2 &^ 1, k}, {0, k - k%2 - 1}} {
						p0, p1 := pr[0], pr[1]
						if p1 <= p0 {
							continue
						}
						w := (p1 - p0 + 1) &^ 1
						fast, slow := make([]uint16, w*nr), make([]uint16, w*nr)
						for i := range fast {
							fast[i], slow[i] = 0xdead, 0xbeef
						}
						s.packBF16(fast, n, nr, j0, p0, p1, availableKernels()[0].tr8, true)
						s.packBF16(slow, n, nr, j0, p0, p1, nil, false)
						if i := slices.Compare(fast, slow); i != 0 {
							for i := range fast {
								if fast[i] != slow[i] {
									t.Fatalf("packBF16(b [%d %d] tb=%v double=%v, j0=%d, k %d..%d) differs at %d (pair %d col %d): asm %#04x, Go %#04x",
										rows, cols, tb, double, j0, p0, p1, i, i/(2*nr), i%(2*nr)/2, fast[i], slow[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestNF4DecodeMatchesQuant: the Go decoders give quant's dequantised
// values (DequantizeRows, DequantizeRowsBF16) from any start.
func TestNF4DecodeMatchesQuant(t *testing.T) {
	defer func(v bool) { nf4Asm = v }(nf4Asm)
	q := nf4Matrix(t, 900, 5, 320, true, tensor.BF16)
	f32 := make([]float32, 5*320)
	h := make([]uint16, 5*320)
	q.DequantizeRows(f32, 0, 5)
	q.DequantizeRowsBF16(h, 0, 5)
	for _, lo := range []int{0, 1, 63, 64, 65, 128, 700} {
		for _, n := range []int{1, 2, 63, 64, 129, 900} {
			if lo+n > len(f32) {
				continue
			}
			gf := make([]float32, n)
			nf4DecodeF32(gf, q.NF4, lo, false)
			gr := make([]float32, n)
			nf4DecodeF32(gr, q.NF4, lo, true)
			for _, fast := range []bool{false, nf4Asm} {
				gh := make([]uint16, n)
				nf4DecodeBF16(gh, q.NF4, lo, fast)
				for i := range n {
					if gh[i] != h[lo+i] {
						t.Fatalf("nf4DecodeBF16(lo=%d, n=%d, fast=%v)[%d] = %#04x, want %#04x", lo, n, fast, i, gh[i], h[lo+i])
					}
				}
			}
			for i := range n {
				if gf[i] != f32[lo+i] || gr[i] != tensor.BF16ToF32(h[lo+i]) {
					t.Fatalf("nf4DecodeF32(lo=%d, n=%d)[%d] = %g (rounded %g), want %g (%g)", lo, n, i, gf[i], gr[i], f32[lo+i], tensor.BF16ToF32(h[lo+i]))
				}
			}
		}
	}
}

// TestNF4KC: the k blocks chosen for [n, k] weights start on code blocks.
func TestNF4KC(t *testing.T) {
	for _, c := range []struct{ k, k0, ld, kcMax, want int }{
		{2048, 0, 2048, 1024, 1024},
		{8192, 0, 8192, 1024, 1024},
		{640, 0, 640, 1024, 640},
		{1344, 0, 1344, 1024, 1024}, // 21 blocks: no divisor in range
		{1344, 0, 1344, 512, 448},
		{2048, 0, 2048, 512, 512},
		{100, 0, 100, 1024, 100},
		{3000, 0, 3000, 1024, 1024},
		{128, 64, 192, 512, 128},
	} {
		if got := nf4KC(c.k, c.k0, c.ld, 64, c.kcMax); got != c.want {
			t.Errorf("nf4KC(%d, %d, %d, 64, %d) = %d, want %d", c.k, c.k0, c.ld, c.kcMax, got, c.want)
		}
	}
}

// BenchmarkMatMulQuant compares, at Llama-3.2-1B shapes (256 tokens), the
// fused NF4 product with the dequantised tiles of compute.MatMulDequant and
// with MatMul by the bf16 weight: forward (tb) and input gradient.
func BenchmarkMatMulQuant(b *testing.B) {
	e := New(0)
	defer e.Close()
	for _, sz := range [][3]int{{256, 2048, 8192}, {256, 8192, 2048}, {1, 2048, 8192}} {
		m, n, k := sz[0], sz[1], sz[2] // forward: c [m, n] = a [m, k] · wᵀ, w [n, k]
		q := nf4Matrix(b, 1, n, k, true, tensor.BF16)
		w := q.Dequantize().To(tensor.BF16)
		for _, tb := range []bool{true, false} {
			a, c := randT(newRand(2), m, k), tensor.New(tensor.F32, m, n)
			if !tb {
				a, c = randT(newRand(2), m, n), tensor.New(tensor.F32, m, k)
			}
			name := fmt.Sprintf("m%d_n%d_k%d_tb%v", m, n, k, tb)
			b.Run(name+"/fused", func(b *testing.B) {
				for range b.N {
					e.MatMulQuant(c, a, q, tb, false)
				}
			})
			b.Run(name+"/dequant", func(b *testing.B) {
				for range b.N {
					compute.MatMulDequant(e, c, a, q, tb, false)
				}
			})
			b.Run(name+"/bf16", func(b *testing.B) {
				for range b.N {
					e.MatMul(c, a, w, false, tb, false)
				}
			})
		}
	}
}
