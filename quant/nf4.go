package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// NF4Code holds the 16 values of the 4-bit NormalFloat data type, in code
// order, exactly as bitsandbytes stores them (float32 values of
// create_normal_map(offset=0.9677083): quantiles of N(0,1), asymmetric with
// 8 positive levels, 7 negative and an exact zero, scaled to [-1, 1]).
var NF4Code = [16]float32{
	-1.0,
	-0.6961928009986877,
	-0.5250730514526367,
	-0.39491748809814453,
	-0.28444138169288635,
	-0.18477343022823334,
	-0.09105003625154495,
	0.0,
	0.07958029955625534,
	0.16093020141124725,
	0.24611230194568634,
	0.33791524171829224,
	0.44070982933044434,
	0.5626170039176941,
	0.7229568362236023,
	1.0,
}

// NF4BlockSize is QLoRA's block size: 64 weights share one absmax.
const NF4BlockSize = 64

// NF4NestedBlockSize is the block size of double quantisation: 256 absmax
// values share one second-level scale.
const NF4NestedBlockSize = 256

// NF4 is a flat run of N weights quantised to NF4 in blocks of BlockSize.
// Packed holds two codes per byte, the earlier element in the high nibble
// (bitsandbytes' layout; an odd N leaves the last low nibble zero). Without
// double quantisation Absmax holds one float32 scale per block. With it
// (Nested), QAbsmax holds one 8-bit code per block into DynamicMap, Absmax2
// one float32 scale per NF4NestedBlockSize blocks and Offset the mean that was
// subtracted first; the scale of block b is then
// DynamicMap[QAbsmax[b]]*Absmax2[b/256] + Offset.
type NF4 struct {
	N         int       // number of weights
	BlockSize int       // weights per block (64 in QLoRA)
	Packed    []byte    // (N+1)/2 bytes of 4-bit codes, high nibble first
	Absmax    []float32 // per-block scale; nil when Nested
	Nested    bool      // the scales are double-quantised
	QAbsmax   []uint8   // per-block 8-bit scale code (Nested only)
	Absmax2   []float32 // per-256-block second-level scale (Nested only)
	Offset    float32   // mean of the scales, added back (Nested only)
}

// validBlockSize reports whether bitsandbytes accepts n as a 4-bit block size.
func validBlockSize(n int) bool {
	switch n {
	case 32, 64, 128, 256, 512, 1024, 2048, 4096:
		return true
	}
	return false
}

// QuantizeNF4 quantises x to NF4 in blocks of blockSize (a power of two from
// 32 to 4096, as bitsandbytes allows; QLoRA uses 64), double-quantising the
// scales when doubleQuant is set. Each block is scaled by its absmax, clamped
// to [-1, 1] and mapped to the nearest code (the first on a tie), as
// bitsandbytes' quantize_4bit does; a trailing partial block has its own
// absmax.
func QuantizeNF4(x []float32, blockSize int, doubleQuant bool) (*NF4, error) {
	return quantizeNF4(len(x), func(dst []float32, lo int) { copy(dst, x[lo:]) }, blockSize, doubleQuant)
}

// quantizeNF4 is QuantizeNF4 over n values that read(dst, lo) supplies,
// dst[i] = x[lo+i]: the blocks are quantised in parallel, a chunk of them
// at a time, so that a bf16 weight is never widened whole.
func quantizeNF4(n int, read func(dst []float32, lo int), blockSize int, doubleQuant bool) (*NF4, error) {
	if !validBlockSize(blockSize) {
		return nil, fmt.Errorf("quant: NF4 block size %d: want one of 32, 64, 128, ..., 4096", blockSize)
	}
	nb := (n + blockSize - 1) / blockSize
	q := &NF4{N: n, BlockSize: blockSize, Packed: make([]byte, (n+1)/2)}
	absmax := make([]float32, nb)
	chunk := max(1, nf4ChunkValues/blockSize) // blocks a task
	tasks := (nb + chunk - 1) / chunk
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(tasks, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			buf := make([]float32, chunk*blockSize)
			for t := int(next.Add(1) - 1); t < tasks; t = int(next.Add(1) - 1) {
				b0, b1 := t*chunk, min((t+1)*chunk, nb)
				x := buf[:min(b1*blockSize, n)-b0*blockSize]
				read(x, b0*blockSize)
				for b := b0; b < b1; b++ {
					lo, hi := b*blockSize, min((b+1)*blockSize, n)
					var m float32
					for _, v := range x[lo-b0*blockSize : hi-b0*blockSize] {
						m = max(m, abs32(v))
					}
					absmax[b] = m
					inv := 1 / m // +Inf for an all-zero block: every code becomes 0, as in bitsandbytes
					for i := lo; i < hi; i++ {
						c := NF4Index(x[i-b0*blockSize] * inv)
						if i&1 == 0 {
							q.Packed[i>>1] = c << 4
						} else {
							q.Packed[i>>1] |= c
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if !doubleQuant {
		q.Absmax = absmax
		return q, nil
	}
	q.Nested = true
	q.QAbsmax, q.Absmax2, q.Offset = quantizeScales(absmax)
	return q, nil
}

// nf4ChunkValues is about how many values a task of quantizeNF4 takes.
const nf4ChunkValues = 1 << 16

// NF4Index returns the NF4 code nearest to s after clamping s to [-1, 1]:
// the first minimiser of |s - NF4Code[i]|, as bitsandbytes' argmin picks. A
// NaN (what an all-zero block scales to) maps to code 0, as it does there.
func NF4Index(s float32) uint8 {
	return uint8(nearestCode(NF4Code[:], clamp1(s)))
}

// Scale returns the absmax of block b, dequantising it first when the scales
// are double-quantised.
func (q *NF4) Scale(b int) float32 {
	if !q.Nested {
		return q.Absmax[b]
	}
	return DynamicMap[q.QAbsmax[b]]*q.Absmax2[b/NF4NestedBlockSize] + q.Offset
}

// Scales returns every block's absmax (see Scale).
func (q *NF4) Scales() []float32 {
	nb := (q.N + q.BlockSize - 1) / q.BlockSize
	s := make([]float32, nb)
	for b := range s {
		s[b] = q.Scale(b)
	}
	return s
}

// Blocks returns the number of blocks.
func (q *NF4) Blocks() int { return (q.N + q.BlockSize - 1) / q.BlockSize }

// Dequantize writes the N weights into dst (len(dst) >= N):
// NF4Code[code]·absmax, in float32 as bitsandbytes computes it.
func (q *NF4) Dequantize(dst []float32) {
	dst = dst[:q.N]
	for b := range q.Blocks() {
		q.DequantizeBlock(dst[b*q.BlockSize:min((b+1)*q.BlockSize, q.N)], b)
	}
}

// DequantizeBlock writes block b into dst, which holds the block's length
// (BlockSize, or less for a trailing partial block). It is the per-tile entry
// point for a GEMM.
func (q *NF4) DequantizeBlock(dst []float32, b int) {
	lo := b * q.BlockSize
	n := min(q.BlockSize, q.N-lo)
	dst = dst[:n]
	DequantizeNF4Block(dst, q.Packed[lo/2:(lo+n+1)/2], q.Scale(b))
}

// DequantizeNF4Block dequantises len(dst) codes from packed (high nibble
// first, starting at the high nibble of packed[0]) with scale absmax.
func DequantizeNF4Block(dst []float32, packed []byte, absmax float32) {
	n := len(dst)
	packed = packed[:(n+1)/2]
	for i := 0; i+1 < n; i += 2 {
		p := packed[i>>1]
		dst[i] = NF4Code[p>>4] * absmax
		dst[i+1] = NF4Code[p&15] * absmax
	}
	if n&1 == 1 {
		dst[n-1] = NF4Code[packed[n>>1]>>4] * absmax
	}
}

// DotNF4Block returns Σ x[i]·w[i] for the len(x) weights w of one NF4 block
// (packed as DequantizeNF4Block reads it, scale absmax), without
// materialising w: the codes' values are summed against x and the scale is
// applied once. The result equals the dot product with the dequantised
// weights up to float32 reassociation.
func DotNF4Block(x []float32, packed []byte, absmax float32) float32 {
	n := len(x)
	packed = packed[:(n+1)/2]
	var s0, s1 float32
	for i := 0; i+1 < n; i += 2 {
		p := packed[i>>1]
		s0 += x[i] * NF4Code[p>>4]
		s1 += x[i+1] * NF4Code[p&15]
	}
	if n&1 == 1 {
		s0 += x[n-1] * NF4Code[packed[n>>1]>>4]
	}
	return (s0 + s1) * absmax
}

// Bytes returns the storage size of q: codes plus scales.
func (q *NF4) Bytes() int {
	if q.Nested {
		return len(q.Packed) + len(q.QAbsmax) + 4*len(q.Absmax2) + 4
	}
	return len(q.Packed) + 4*len(q.Absmax)
}

// Validate checks that the slices of q agree with N and BlockSize, so a
// value read from a file cannot make Dequantize index out of range.
func (q *NF4) Validate() error {
	if q.N < 0 || !validBlockSize(q.BlockSize) {
		return fmt.Errorf("quant: NF4 with %d weights in blocks of %d", q.N, q.BlockSize)
	}
	nb := q.Blocks()
	if len(q.Packed) != (q.N+1)/2 {
		return fmt.Errorf("quant: NF4 of %d weights has %d packed bytes, want %d", q.N, len(q.Packed), (q.N+1)/2)
	}
	if !q.Nested {
		if len(q.Absmax) != nb {
			return fmt.Errorf("quant: NF4 with %d blocks has %d scales", nb, len(q.Absmax))
		}
		return nil
	}
	if len(q.QAbsmax) != nb || len(q.Absmax2) != (nb+NF4NestedBlockSize-1)/NF4NestedBlockSize {
		return fmt.Errorf("quant: double-quantised NF4 with %d blocks has %d scale codes and %d second-level scales",
			nb, len(q.QAbsmax), len(q.Absmax2))
	}
	return nil
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// clamp1 clamps s to [-1, 1], leaving NaN as it is (torch.clamp's rule).
func clamp1(s float32) float32 {
	if s > 1 {
		return 1
	}
	if s < -1 {
		return -1
	}
	return s
}

// nearestCode returns the first index i minimising |s - code[i]| over an
// ascending code table, computing distances in float32 as torch.argmin sees
// them; NaN maps to 0.
func nearestCode(code []float32, s float32) int {
	if s != s {
		return 0
	}
	// first k with code[k] >= s
	lo, hi := 0, len(code)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if code[m] < s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	best, bd := -1, float32(math.Inf(1))
	for _, i := range [2]int{lo - 1, lo} {
		if i >= 0 && i < len(code) {
			if d := abs32(s - code[i]); d < bd {
				best, bd = i, d
			}
		}
	}
	// an earlier code at the same rounded distance wins the argmin
	for best > 0 && abs32(s-code[best-1]) == bd {
		best--
	}
	return best
}
