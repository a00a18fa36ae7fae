package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"hone/tensor"
)

// Format is one of ggml's block quantisation formats. Its blocks are stored
// byte for byte as ggml lays them out, so a GGUF tensor of that type is a
// run of them.
type Format uint8

// The ggml block formats hone reads and writes.
const (
	// Q8_0: 32 weights as an fp16 scale d and 32 int8 codes; w = d·q.
	Q8_0 Format = iota
	// Q4_0: 32 weights as an fp16 scale d and 16 bytes of 4-bit codes, the
	// low nibbles holding weights 0..15 and the high nibbles 16..31;
	// w = d·(q-8).
	Q4_0
	// Q4_K: a 256-weight super-block of eight 32-weight sub-blocks, each with
	// a 6-bit scale and a 6-bit min, under fp16 d and dmin; w = d·sc·q - dmin·m.
	Q4_K
)

// Block geometry of the ggml formats (QK8_0, QK4_0, QK_K and sizeof(block_*)).
const (
	QK8_0        = 32
	BlockQ8_0    = 2 + QK8_0
	QK4_0        = 32
	BlockQ4_0    = 2 + QK4_0/2
	QKK          = 256
	BlockQ4_K    = 2 + 2 + 12 + QKK/2
	q4KScaleSize = 12
)

var formatInfo = [...]struct {
	name        string
	blockLen    int
	blockBytes  int
	quantize    func(dst []byte, x []float32)
	dequantize  func(dst []float32, block []byte)
	blockDotter func(x []float32, block []byte) float32
}{
	Q8_0: {"Q8_0", QK8_0, BlockQ8_0, quantizeBlockQ8_0, dequantizeBlockQ8_0, dotBlockQ8_0},
	Q4_0: {"Q4_0", QK4_0, BlockQ4_0, quantizeBlockQ4_0, dequantizeBlockQ4_0, dotBlockQ4_0},
	Q4_K: {"Q4_K", QKK, BlockQ4_K, quantizeBlockQ4_K, dequantizeBlockQ4_K, dotBlockQ4_K},
}

// String returns ggml's name for the format ("Q8_0", ...).
func (f Format) String() string {
	if int(f) < len(formatInfo) {
		return formatInfo[f].name
	}
	return fmt.Sprintf("Format(%d)", f)
}

// BlockLen returns the number of weights in one block.
func (f Format) BlockLen() int { return formatInfo[f].blockLen }

// BlockBytes returns the size of one block in bytes.
func (f Format) BlockBytes() int { return formatInfo[f].blockBytes }

// RowBytes returns the storage size of n weights (n a multiple of BlockLen).
func (f Format) RowBytes(n int) int { return n / f.BlockLen() * f.BlockBytes() }

// QuantizeBlock quantises BlockLen weights from x into one block in dst, as
// ggml's quantize_row_*_ref does.
func (f Format) QuantizeBlock(dst []byte, x []float32) {
	formatInfo[f].quantize(dst[:f.BlockBytes()], x[:f.BlockLen()])
}

// DequantizeBlock writes the BlockLen weights of one block into dst, as
// ggml's dequantize_row_* does. It is the per-tile entry point for a GEMM.
func (f Format) DequantizeBlock(dst []float32, block []byte) {
	formatInfo[f].dequantize(dst[:f.BlockLen()], block[:f.BlockBytes()])
}

// DotBlock returns Σ x[i]·w[i] over the BlockLen weights w of one block,
// fusing dequantisation into the dot product (scales applied per block or
// sub-block, not per weight).
func (f Format) DotBlock(x []float32, block []byte) float32 {
	return formatInfo[f].blockDotter(x[:f.BlockLen()], block[:f.BlockBytes()])
}

// QuantizeRow quantises x (len a multiple of BlockLen) into dst, which must
// hold RowBytes(len(x)) bytes.
func (f Format) QuantizeRow(dst []byte, x []float32) error {
	bl, bb := f.BlockLen(), f.BlockBytes()
	if len(x)%bl != 0 {
		return fmt.Errorf("quant: %s row of %d weights is not a multiple of %d", f, len(x), bl)
	}
	if len(dst) < len(x)/bl*bb {
		return fmt.Errorf("quant: %s row of %d weights needs %d bytes, have %d", f, len(x), len(x)/bl*bb, len(dst))
	}
	for i := 0; i < len(x)/bl; i++ {
		f.QuantizeBlock(dst[i*bb:], x[i*bl:])
	}
	return nil
}

// DequantizeRow writes the weights stored in src into dst; len(src) must be
// a whole number of blocks and dst must hold them.
func (f Format) DequantizeRow(dst []float32, src []byte) error {
	bl, bb := f.BlockLen(), f.BlockBytes()
	if len(src)%bb != 0 {
		return fmt.Errorf("quant: %d bytes are not a whole number of %d-byte %s blocks", len(src), bb, f)
	}
	if len(dst) < len(src)/bb*bl {
		return fmt.Errorf("quant: %d %s blocks hold %d weights, destination has room for %d", len(src)/bb, f, len(src)/bb*bl, len(dst))
	}
	for i := 0; i < len(src)/bb; i++ {
		f.DequantizeBlock(dst[i*bl:], src[i*bb:])
	}
	return nil
}

// Blocks is a run of N weights stored in a ggml block format: the packed
// storage type of Q8_0, Q4_0 and Q4_K. Data is exactly the bytes of a GGUF
// tensor of that type.
type Blocks struct {
	Format Format
	N      int
	Data   []byte
}

// Quantize quantises x (len a multiple of f.BlockLen()) to f.
func Quantize(f Format, x []float32) (*Blocks, error) {
	if int(f) >= len(formatInfo) {
		return nil, fmt.Errorf("quant: unknown format %d", f)
	}
	q := &Blocks{Format: f, N: len(x), Data: make([]byte, f.RowBytes(len(x)))}
	if err := f.QuantizeRow(q.Data, x); err != nil {
		return nil, err
	}
	return q, nil
}

// NewBlocks wraps data (without copying) as n weights in format f, checking
// that the sizes agree.
func NewBlocks(f Format, n int, data []byte) (*Blocks, error) {
	if int(f) >= len(formatInfo) {
		return nil, fmt.Errorf("quant: unknown format %d", f)
	}
	if n < 0 || n%f.BlockLen() != 0 || len(data) != f.RowBytes(n) {
		return nil, fmt.Errorf("quant: %d weights in %s need a multiple of %d weights in %d bytes, have %d bytes",
			n, f, f.BlockLen(), max(0, f.RowBytes(n)), len(data))
	}
	return &Blocks{Format: f, N: n, Data: data}, nil
}

// Dequantize writes the N weights into dst (len >= N).
func (q *Blocks) Dequantize(dst []float32) {
	bl, bb := q.Format.BlockLen(), q.Format.BlockBytes()
	for b := 0; b < q.N/bl; b++ {
		q.Format.DequantizeBlock(dst[b*bl:], q.Data[b*bb:])
	}
}

// DequantizeBlock writes block b (BlockLen weights) into dst.
func (q *Blocks) DequantizeBlock(dst []float32, b int) {
	bb := q.Format.BlockBytes()
	q.Format.DequantizeBlock(dst, q.Data[b*bb:(b+1)*bb])
}

// ---- Q8_0 ----

func quantizeBlockQ8_0(dst []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, tensor.F32ToF16(d))
	for j, v := range x {
		dst[2+j] = byte(int8(math.Round(float64(v * id)))) // roundf: half away from zero
	}
}

func dequantizeBlockQ8_0(dst []float32, b []byte) {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b))
	for j := range QK8_0 {
		dst[j] = float32(int8(b[2+j])) * d
	}
}

func dotBlockQ8_0(x []float32, b []byte) float32 {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b))
	var s0, s1 float32
	for j := 0; j < QK8_0; j += 2 {
		s0 += x[j] * float32(int8(b[2+j]))
		s1 += x[j+1] * float32(int8(b[3+j]))
	}
	return (s0 + s1) * d
}

// ---- Q4_0 ----

func quantizeBlockQ4_0(dst []byte, x []float32) {
	var amax, mx float32
	for _, v := range x {
		if amax < abs32(v) {
			amax, mx = abs32(v), v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, tensor.F32ToF16(d))
	for j := range QK4_0 / 2 {
		x0 := x[j] * id
		x1 := x[QK4_0/2+j] * id
		q0 := min(15, int8(x0+8.5)) // truncation toward zero, as the C cast does
		q1 := min(15, int8(x1+8.5))
		dst[2+j] = byte(q0) | byte(q1)<<4
	}
}

func dequantizeBlockQ4_0(dst []float32, b []byte) {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b))
	for j := range QK4_0 / 2 {
		dst[j] = float32(int(b[2+j]&15)-8) * d
		dst[j+QK4_0/2] = float32(int(b[2+j]>>4)-8) * d
	}
}

func dotBlockQ4_0(x []float32, b []byte) float32 {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b))
	var s0, s1 float32
	for j := range QK4_0 / 2 {
		s0 += x[j] * float32(int(b[2+j]&15)-8)
		s1 += x[j+QK4_0/2] * float32(int(b[2+j]>>4)-8)
	}
	return (s0 + s1) * d
}

// ---- Q4_K ----

// nearestInt is ggml's nearest_int: round half to even through the float32
// magic-number trick (valid for |v| <= 4194303).
func nearestInt(v float32) int {
	i := math.Float32bits(v + 12582912)
	return int(i&0x007fffff) - 0x00400000
}

// makeQKX2Quants is ggml's make_qkx2_quants: a weighted search for the
// scale and min of one sub-block of n weights at levels 0..nmax. It returns
// the scale and stores -min in *theMin.
func makeQKX2Quants(x, weights []float32, nmax int, L, Laux []uint8, theMin *float32,
	rmin, rdelta float32, nstep int) float32 {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := sumW * x[0]
	for i := 1; i < n; i++ {
		mn = min(mn, x[i])
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += w * x[i]
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		for i := range n {
			L[i] = 0
		}
		*theMin = -mn
		return 0
	}
	iscale := float32(nmax) / (mx - mn)
	scale := 1 / iscale
	var bestError float32
	for i := range n {
		l := nearestInt(iscale * (x[i] - mn))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := scale*float32(L[i]) + mn - x[i]
		bestError += weights[i] * (diff * diff)
	}
	if nstep < 1 {
		*theMin = -mn
		return scale
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + rdelta*float32(is) + float32(nmax)) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i := range n {
			l := nearestInt(iscale * (x[i] - mn))
			l = max(0, min(nmax, l))
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += w * fl
			sumL2 += w * fl * fl
			sumXL += w * fl * x[i]
		}
		D := sumW*sumL2 - sumL*sumL
		if D > 0 {
			thisScale := (sumW*sumXL - sumX*sumL) / D
			thisMin := (sumL2*sumX - sumL*sumXL) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i := range n {
				diff := thisScale*float32(Laux[i]) + thisMin - x[i]
				curError += weights[i] * (diff * diff)
			}
			if curError < bestError {
				copy(L[:n], Laux[:n])
				bestError = curError
				scale = thisScale
				mn = thisMin
			}
		}
	}
	*theMin = -mn
	return scale
}

// scaleMinK4 is ggml's get_scale_min_k4: the 6-bit scale and min of
// sub-block j from the 12 packed scale bytes.
func scaleMinK4(j int, q []byte) (d, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

func quantizeBlockQ4_K(dst []byte, x []float32) {
	var L [QKK]uint8
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [QKK / 32]float32
	var maxScale, maxMin float32
	for j := range QKK / 32 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += v * v
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j] = makeQKX2Quants(xs, weights[:], 15, L[32*j:32*j+32], Laux[:], &mins[j], -1, 0.1, 20)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := dst[4 : 4+q4KScaleSize]
	clear(sc)
	for j := range QKK / 32 {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = (ls & 0xF) | ((lm & 0xF) << 4)
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	dh := tensor.F32ToF16(maxScale / 63)
	mh := tensor.F32ToF16(maxMin / 63)
	binary.LittleEndian.PutUint16(dst[0:], dh)
	binary.LittleEndian.PutUint16(dst[2:], mh)
	df, mf := tensor.F16ToF32(dh), tensor.F16ToF32(mh)
	for j := range QKK / 32 {
		s, m := scaleMinK4(j, sc)
		d := df * float32(s)
		if d == 0 {
			continue
		}
		dm := mf * float32(m)
		for ii := range 32 {
			l := nearestInt((x[32*j+ii] + dm) / d)
			L[32*j+ii] = uint8(max(0, min(15, l)))
		}
	}
	q := dst[4+q4KScaleSize:]
	for j := 0; j < QKK; j += 64 {
		for l := range 32 {
			q[l] = L[j+l] | L[j+l+32]<<4
		}
		q = q[32:]
	}
}

func dequantizeBlockQ4_K(dst []float32, b []byte) {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b[0:]))
	mn := tensor.F16ToF32(binary.LittleEndian.Uint16(b[2:]))
	sc := b[4 : 4+q4KScaleSize]
	q := b[4+q4KScaleSize:]
	is := 0
	for j := 0; j < QKK; j += 64 {
		s, m := scaleMinK4(is, sc)
		d1, m1 := d*float32(s), mn*float32(m)
		s, m = scaleMinK4(is+1, sc)
		d2, m2 := d*float32(s), mn*float32(m)
		for l := range 32 {
			dst[j+l] = d1*float32(q[l]&0xF) - m1
		}
		for l := range 32 {
			dst[j+32+l] = d2*float32(q[l]>>4) - m2
		}
		q = q[32:]
		is += 2
	}
}

func dotBlockQ4_K(x []float32, b []byte) float32 {
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(b[0:]))
	mn := tensor.F16ToF32(binary.LittleEndian.Uint16(b[2:]))
	sc := b[4 : 4+q4KScaleSize]
	q := b[4+q4KScaleSize:]
	var total float32
	is := 0
	for j := 0; j < QKK; j += 64 {
		s1, m1 := scaleMinK4(is, sc)
		s2, m2 := scaleMinK4(is+1, sc)
		var dq1, sx1, dq2, sx2 float32
		for l := range 32 {
			dq1 += x[j+l] * float32(q[l]&0xF)
			sx1 += x[j+l]
			dq2 += x[j+32+l] * float32(q[l]>>4)
			sx2 += x[j+32+l]
		}
		total += d*float32(s1)*dq1 - mn*float32(m1)*sx1 + d*float32(s2)*dq2 - mn*float32(m2)*sx2
		q = q[32:]
		is += 2
	}
	return total
}
