package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"hone/tensor"
)

func TestNF4CodeIsNormalMap(t *testing.T) {
	// create_normal_map(offset=0.9677083, use_extra_value=True): norm.ppf of
	// float32 linspace points, sorted, divided by the max in float32.
	ppf := func(p float32) float64 { return math.Sqrt2 * math.Erfinv(2*float64(p)-1) }
	const offset = float32(0.9677083)
	var v []float64
	for _, p := range linspace32(offset, 0.5, 9)[:8] {
		v = append(v, ppf(p))
	}
	v = append(v, 0)
	for _, p := range linspace32(offset, 0.5, 8)[:7] {
		v = append(v, -ppf(p))
	}
	vals := make([]float32, len(v))
	for i, x := range v {
		vals[i] = float32(x)
	}
	for i := 1; i < len(vals); i++ {
		for j := i; j > 0 && vals[j] < vals[j-1]; j-- {
			vals[j], vals[j-1] = vals[j-1], vals[j]
		}
	}
	for i := range vals {
		got := vals[i] / vals[15]
		if d := ulpDiff(math.Float32bits(abs32(got)), math.Float32bits(abs32(NF4Code[i]))); d > 2 {
			t.Errorf("create_normal_map()[%d] = %.9g, NF4Code[%d] = %.9g (%d ulps)", i, got, i, NF4Code[i], d)
		}
	}
}

func TestDequantizeNF4HandBuilt(t *testing.T) {
	// Blocks with known codes and absmax: w[i] = NF4Code[code[i]]·absmax,
	// element by element, as bitsandbytes' dequantize_4bit defines it.
	codes := make([]uint8, 64+64+10) // two full blocks and a partial one
	for i := range codes {
		codes[i] = uint8((i*7 + i/16) % 16)
	}
	absmax := []float32{2, 0.0625, 3.5}
	q := &NF4{N: len(codes), BlockSize: 64, Packed: make([]byte, (len(codes)+1)/2), Absmax: absmax}
	for i, c := range codes {
		if i%2 == 0 {
			q.Packed[i/2] = c << 4
		} else {
			q.Packed[i/2] |= c
		}
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(codes))
	q.Dequantize(got)
	for i, c := range codes {
		if want := NF4Code[c] * absmax[i/64]; got[i] != want {
			t.Errorf("NF4 dequantise element %d (code %d, absmax %g) = %g, want %g", i, c, absmax[i/64], got[i], want)
		}
	}
	// a few values spelled out
	for _, tc := range []struct {
		code   uint8
		absmax float32
		want   float32
	}{
		{0, 2, -2},
		{7, 2, 0},
		{15, 0.5, 0.5},
		{8, 1, 0.07958029955625534},
		{1, 4, -2.7847712039947510},
		{14, 1, 0.7229568362236023},
	} {
		var dst [1]float32
		DequantizeNF4Block(dst[:], []byte{tc.code << 4}, tc.absmax)
		if dst[0] != tc.want {
			t.Errorf("DequantizeNF4Block(code %d, absmax %g) = %.9g, want %.9g", tc.code, tc.absmax, dst[0], tc.want)
		}
	}
}

func TestNF4Index(t *testing.T) {
	mid := func(i int) float32 { return (NF4Code[i] + NF4Code[i+1]) / 2 }
	for _, tc := range []struct {
		s    float32
		want uint8
	}{
		{-1, 0}, {-7, 0}, {1, 15}, {9, 15}, {0, 7},
		{0.0397, 7}, {0.0399, 8},
		{mid(7), 7},              // a tie goes to the first code, as argmin does
		{-0.62, 1},               // between -0.696 and -0.525, nearer -0.696
		{-0.61, 2},               // nearer -0.525
		{float32(math.NaN()), 0}, // an all-zero block scales to NaN
	} {
		if got := NF4Index(tc.s); got != tc.want {
			t.Errorf("NF4Index(%g) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestNearestCodeIsArgmin(t *testing.T) {
	argmin := func(code []float32, s float32) int {
		best, bd := 0, abs32(s-code[0])
		for i, c := range code[1:] {
			if d := abs32(s - c); d < bd {
				best, bd = i+1, d
			}
		}
		return best
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, code := range [][]float32{NF4Code[:], DynamicMap[:]} {
		var probes []float32
		for i := 0; i+1 < len(code); i++ {
			m := (code[i] + code[i+1]) / 2
			probes = append(probes, code[i], m, math.Nextafter32(m, -2), math.Nextafter32(m, 2))
		}
		for range 20000 {
			probes = append(probes, float32(r.Float64()*2-1), float32(r.NormFloat64()*1e-4))
		}
		for _, s := range probes {
			if got, want := nearestCode(code, s), argmin(code, s); got != want {
				t.Fatalf("nearestCode(%d-entry code, %.9g) = %d, want %d", len(code), s, got, want)
			}
		}
	}
}

func TestNF4AllZeroBlock(t *testing.T) {
	q, err := QuantizeNF4(make([]float32, 64), 64, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range q.Packed {
		if b != 0 {
			t.Fatalf("QuantizeNF4(zeros).Packed[%d] = %#x, want 0 (code 0, as bitsandbytes' NaN argmin gives)", i, b)
		}
	}
	w := make([]float32, 64)
	q.Dequantize(w)
	for i, v := range w {
		if v != 0 {
			t.Fatalf("dequantised zero block [%d] = %g", i, v)
		}
	}
}

// nf4TheoreticalMSE returns E[(x - Q(x))²] for x ~ N(0,1) quantised to NF4
// in blocks of n with absmax scaling, by numerical integration. Given the
// block absmax M = m (density n·2φ(m)·(2Φ(m)-1)^(n-1)), one weight sits at
// ±m and is reproduced exactly, the other n-1 are N(0,1) truncated to
// (-m, m); over each code's interval (between the midpoints, scaled by m)
// the squared error integrates in closed form:
// ∫(x-c)²φ = [Φ(x)(1+c²) - xφ(x) + 2cφ(x)].
func nf4TheoreticalMSE(n int) float64 {
	phi := func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
	Phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	prim := func(x, c float64) float64 { return Phi(x)*(1+c*c) - x*phi(x) + 2*c*phi(x) }
	inner := func(m float64) float64 { // E[(x-Q)² ; |x|<m] (unnormalised)
		var s float64
		for k := range 16 {
			lo, hi := -1.0, 1.0
			if k > 0 {
				lo = (float64(NF4Code[k-1]) + float64(NF4Code[k])) / 2
			}
			if k < 15 {
				hi = (float64(NF4Code[k]) + float64(NF4Code[k+1])) / 2
			}
			c := m * float64(NF4Code[k])
			s += prim(m*hi, c) - prim(m*lo, c)
		}
		return s
	}
	// Simpson's rule over m in (0, 9]
	const steps = 4000
	h := 9.0 / steps
	f := func(m float64) float64 {
		if m == 0 {
			return 0
		}
		p := 2*Phi(m) - 1
		dens := float64(n) * 2 * phi(m) * math.Pow(p, float64(n-1))
		return dens * float64(n-1) / float64(n) * inner(m) / p
	}
	s := f(0) + f(9)
	for i := 1; i < steps; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(float64(i)*h)
	}
	return s * h / 3
}

func TestNF4GaussianErrorIsTheoretical(t *testing.T) {
	want := nf4TheoreticalMSE(64)
	r := rand.New(rand.NewPCG(7, 11))
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, dq := range []bool{false, true} {
		q, err := QuantizeNF4(x, 64, dq)
		if err != nil {
			t.Fatal(err)
		}
		w := make([]float32, len(x))
		q.Dequantize(w)
		var se float64
		for i := range x {
			d := float64(x[i] - w[i])
			se += d * d
		}
		got := se / float64(len(x))
		tol := 0.02 // sampling error of 2^20 draws is ~0.3%
		if dq {
			tol = 0.03 // double quantisation adds a little scale error
		}
		if rel := math.Abs(got-want) / want; rel > tol {
			t.Errorf("NF4 (double quant %v) MSE on N(0,1) = %.6g, theoretical %.6g: off by %.2f%% > %.0f%%", dq, got, want, 100*rel, 100*tol)
		} else {
			t.Logf("NF4 (double quant %v) MSE on N(0,1) = %.6g, theoretical %.6g (%.2f%%)", dq, got, want, 100*rel)
		}
	}
}

func TestQuantizeNF4Errors(t *testing.T) {
	for _, bs := range []int{0, 16, 63, 100, 8192} {
		if _, err := QuantizeNF4(make([]float32, 10), bs, false); err == nil {
			t.Errorf("QuantizeNF4(blockSize %d) = nil error, want one", bs)
		}
	}
	bad := &NF4{N: 100, BlockSize: 64, Packed: make([]byte, 50), Absmax: make([]float32, 1)}
	if err := bad.Validate(); err == nil {
		t.Errorf("Validate(100 weights, 1 scale) = nil, want an error")
	}
}

func TestInt8(t *testing.T) {
	for _, tc := range []struct {
		row   []float32
		codes []int8
		scale float32
	}{
		{[]float32{1, -0.5, 0.25, 0}, []int8{127, -64, 32, 0}, 1}, // -63.5 rounds to even
		{[]float32{0, 0, 0}, []int8{0, 0, 0}, 0},
		{[]float32{-4, 2, 1.0 / 127 * 4 * 0.5}, []int8{-127, 64, 0}, 4}, // 63.5 -> 64, 0.5 -> 0
	} {
		codes := make([]int8, len(tc.row))
		var s float32
		QuantizeInt8Row(codes, tc.row, &s)
		if s != tc.scale {
			t.Errorf("QuantizeInt8Row(%v) scale = %g, want %g", tc.row, s, tc.scale)
		}
		for i := range codes {
			if codes[i] != tc.codes[i] {
				t.Errorf("QuantizeInt8Row(%v) = %v, want %v", tc.row, codes, tc.codes)
				break
			}
		}
		w := make([]float32, len(codes))
		DequantizeInt8Row(w, codes, s)
		for i := range w {
			if want := float32(codes[i]) * s * float32(1.0/127); w[i] != want {
				t.Errorf("DequantizeInt8Row[%d] = %g, want %g", i, w[i], want)
			}
		}
	}
	if _, err := QuantizeInt8(make([]float32, 5), 2, 3); err == nil {
		t.Errorf("QuantizeInt8(5 values, [2,3]) = nil error, want one")
	}
	// round trip error is at most half a step per weight
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 8*96)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q, err := QuantizeInt8(x, 8, 96)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, len(x))
	q.Dequantize(w)
	for i := range x {
		if e, lim := abs32(x[i]-w[i]), q.Scale[i/96]/127*0.5001; e > lim {
			t.Fatalf("int8 round trip [%d]: |%g - %g| = %g > %g", i, x[i], w[i], e, lim)
		}
	}
}

func TestQ4_0HandBuilt(t *testing.T) {
	// x[j] = j - 16: the extreme is x[0] = -16, so d = -16/-8 = 2 and
	// q = min(15, trunc((j-16)/2 + 8.5)) = min(15, trunc(j/2 + 0.5)).
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16)
	}
	var blk [BlockQ4_0]byte
	Q4_0.QuantizeBlock(blk[:], x)
	if d := tensor.F16ToF32(binary.LittleEndian.Uint16(blk[:])); d != 2 {
		t.Errorf("Q4_0 d = %g, want 2", d)
	}
	for j := range 16 {
		lo := min(15, (j+1)/2)
		hi := min(15, (j+16+1)/2)
		if want := byte(lo | hi<<4); blk[2+j] != want {
			t.Errorf("Q4_0 qs[%d] = %#02x, want %#02x (low nibble weight %d, high nibble weight %d)", j, blk[2+j], want, j, j+16)
		}
	}
	w := make([]float32, 32)
	Q4_0.DequantizeBlock(w, blk[:])
	for j := range w {
		q := min(15, (j+1)/2)
		if want := float32(q-8) * 2; w[j] != want {
			t.Errorf("Q4_0 dequantised[%d] = %g, want %g", j, w[j], want)
		}
	}
}

func TestQ8_0HandBuilt(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2], x[3] = 127, -63.5, 0.5, -0.5 // roundf: half away from zero
	var blk [BlockQ8_0]byte
	Q8_0.QuantizeBlock(blk[:], x)
	if d := tensor.F16ToF32(binary.LittleEndian.Uint16(blk[:])); d != 1 {
		t.Errorf("Q8_0 d = %g, want 1", d)
	}
	for i, want := range []int8{127, -64, 1, -1, 0} {
		if got := int8(blk[2+i]); got != want {
			t.Errorf("Q8_0 q[%d] of %g = %d, want %d", i, x[i], got, want)
		}
	}
}

func TestBlockHelpersAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 512)
	v := make([]float32, 512)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		v[i] = float32(r.NormFloat64())
	}
	dot := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	for _, f := range []Format{Q8_0, Q4_0, Q4_K} {
		q, err := Quantize(f, x)
		if err != nil {
			t.Fatal(err)
		}
		all := make([]float32, len(x))
		q.Dequantize(all)
		for b := 0; b < len(x)/f.BlockLen(); b++ {
			blk := make([]float32, f.BlockLen())
			q.DequantizeBlock(blk, b)
			seg := all[b*f.BlockLen() : (b+1)*f.BlockLen()]
			for i := range blk {
				if blk[i] != seg[i] {
					t.Fatalf("%s DequantizeBlock(%d)[%d] = %g, Dequantize gives %g", f, b, i, blk[i], seg[i])
				}
			}
			got := float64(f.DotBlock(v[b*f.BlockLen():], q.Data[b*f.BlockBytes():]))
			want := dot(v[b*f.BlockLen():(b+1)*f.BlockLen()], seg)
			if math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
				t.Errorf("%s DotBlock(%d) = %g, dot with dequantised = %g", f, b, got, want)
			}
		}
		// quantisation error bounds: Q8_0 within half a step (plus the fp16
		// rounding of d, which the codes do not see), Q4_0 within a step
		for b := 0; b < len(x)/32 && f != Q4_K; b++ {
			d := abs32(tensor.F16ToF32(binary.LittleEndian.Uint16(q.Data[b*f.BlockBytes():])))
			for i := b * 32; i < b*32+32; i++ {
				if e := abs32(x[i] - all[i]); e > d*0.52 && !(f == Q4_0 && e <= d*1.0001) {
					t.Fatalf("%s error at %d = %g > half step %g", f, i, e, d/2)
				}
			}
		}
	}
	q, _ := QuantizeNF4(x, 64, false)
	all := make([]float32, len(x))
	q.Dequantize(all)
	for b := range q.Blocks() {
		got := float64(DotNF4Block(v[b*64:(b+1)*64], q.Packed[b*32:], q.Scale(b)))
		want := dot(v[b*64:(b+1)*64], all[b*64:(b+1)*64])
		if math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
			t.Errorf("DotNF4Block(%d) = %g, dot with dequantised = %g", b, got, want)
		}
	}
	codes := make([]int8, 96)
	var s float32
	QuantizeInt8Row(codes, x[:96], &s)
	w := make([]float32, 96)
	DequantizeInt8Row(w, codes, s)
	if got, want := float64(DotInt8Row(v[:96], codes, s)), dot(v[:96], w); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
		t.Errorf("DotInt8Row = %g, dot with dequantised = %g", got, want)
	}
}

func TestFormatErrors(t *testing.T) {
	if _, err := Quantize(Q8_0, make([]float32, 33)); err == nil {
		t.Errorf("Quantize(Q8_0, 33 weights) = nil error, want one")
	}
	if _, err := NewBlocks(Q4_0, 32, make([]byte, 17)); err == nil {
		t.Errorf("NewBlocks(Q4_0, 32, 17 bytes) = nil error, want one")
	}
	if _, err := NewBlocks(Q4_K, 256, make([]byte, BlockQ4_K)); err != nil {
		t.Errorf("NewBlocks(Q4_K, 256, %d bytes) = %v", BlockQ4_K, err)
	}
	if err := Q8_0.DequantizeRow(make([]float32, 31), make([]byte, 34)); err == nil {
		t.Errorf("DequantizeRow into a short buffer = nil error, want one")
	}
	if got := Format(9).String(); got != "Format(9)" {
		t.Errorf("Format(9).String() = %q", got)
	}
}

func BenchmarkDequantizeNF4(b *testing.B) {
	x := make([]float32, 1<<16)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q, _ := QuantizeNF4(x, 64, true)
	w := make([]float32, len(x))
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		q.Dequantize(w)
	}
}

func BenchmarkDotQ4_0(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	q, _ := Quantize(Q4_0, x)
	b.SetBytes(int64(len(q.Data)))
	for b.Loop() {
		var s float32
		for i := 0; i < len(x)/32; i++ {
			s += Q4_0.DotBlock(x[i*32:], q.Data[i*BlockQ4_0:])
		}
		_ = s
	}
}
