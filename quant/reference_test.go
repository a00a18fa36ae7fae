package quant

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// The hashes and bytes in this file were produced by the reference
// implementations themselves, run on refInput's values:
//   - Q8_0, Q4_0, Q4_K: ggml's quantize_row_*_ref / dequantize_row_q4_K
//     (src/ggml-quants.c, ggml commit d99724f2), compiled with
//     gcc -O2 -ffp-contract=off and _Float16 for GGML_FP32_TO_FP16;
//   - NF4 and its double quantisation: bitsandbytes' default (torch) backend
//     algorithm — clamp(x·(1/absmax)), argmin over the code table, high nibble
//     first, absmax.mean() offset, 256-blocks over create_dynamic_map() —
//     run with torch 1.13 on refNF4Input.
// A mismatch means hone no longer writes the bytes llama.cpp / bitsandbytes
// write.

// refInput reproduces the reference harness's 4096 inputs: a 64-bit LCG
// mapped to [-1, 1), scaled by 1, 4, 7 or 10 per 256 values, with an all-zero
// 32-block, a constant 32-block and an all-positive 256-block.
func refInput() []float32 {
	x := make([]float32, 4096)
	st := uint64(42)
	for i := range x {
		st = st*6364136223846793005 + 1442695040888963407
		u := float32(float64(st>>40)/16777216.0*2.0 - 1.0)
		x[i] = u * (1 + float32((i/256)%4)*3)
	}
	for i := 160; i < 192; i++ {
		x[i] = 0
	}
	for i := 192; i < 224; i++ {
		x[i] = 0.25
	}
	for i := 512; i < 768; i++ {
		x[i] = abs32(x[i])
	}
	return x
}

// refNF4Input is refInput followed by half of its first 37 values: 4133
// weights, so the last NF4 block is partial and the last byte half-filled.
func refNF4Input() []float32 {
	x := refInput()
	for i := range 37 {
		x = append(x, x[i]*0.5)
	}
	return x
}

func sum256(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func TestRefInput(t *testing.T) {
	const want = "e3270ecf1176c04ecbad359bfed6b7a4b105d46aa127656cc29751d82468e00e"
	if got := sum256(f32bytes(refInput())); got != want {
		t.Fatalf("sha256(refInput()) = %s, want %s (the generator no longer matches the reference harness)", got, want)
	}
}

func TestGGMLBytesMatchReference(t *testing.T) {
	x := refInput()
	for _, tc := range []struct {
		f      Format
		prefix string // first two blocks, hex
		sha    string // all blocks
	}{
		{Q8_0, "b61f12b7e923308281a4f982da0870d24fe34d8deb37d6ede9d7e30709fcea1f73370520ea258722aedc6e26a7765d6fe455e586b8a000f4a80389efd1408dc4f3815a41",
			"a3b69e74caa691dca8fd7941094a47f7710f82293a71c75a2dc847d189f14fce"},
		{Q4_0, "a72fd91377ba5b707052688096887fa5fdb6f92f372a807a23861f7a52cf1e4f760de6c0",
			"080e2df0cb84c082a3c0ec0752188c32206d793e433b3ecbde9bc15ccf401e74"},
		{Q4_K, "35181f24ff3b3ffdfb3b3cffbe0008cf68a306a93a50f0a227f0e5f86ed56c063c21867b2586067556c808477609eecbe653cf4e04d3ed6d905d8675a11af59f58b7b9c5fb79f8dddb7abe2a31ae40f205080b0802090d0a000c00010701030f080e080b03060b0906000a09050d0c09af2f1f1f4fbf3fbf0fefef8fafcfbfefbf6f3fffffafdfbf4fafef7fffafdf9f",
			"1c599968db82e4d35d9e9aabb6dede6647379760dfb86fb323f815fcb8bb0d61"},
	} {
		q, err := Quantize(tc.f, x)
		if err != nil {
			t.Fatal(err)
		}
		n := len(tc.prefix) / 2
		if got := hex.EncodeToString(q.Data[:n]); got != tc.prefix {
			t.Errorf("Quantize(%s, refInput)[:%d] = %s, want %s", tc.f, n, got, tc.prefix)
		}
		if got := sum256(q.Data); got != tc.sha {
			t.Errorf("sha256(Quantize(%s, refInput)) = %s, want %s", tc.f, got, tc.sha)
		}
	}
	// ggml's dequantize_row_q4_K of its own blocks
	q, _ := Quantize(Q4_K, x)
	y := make([]float32, len(x))
	q.Dequantize(y)
	if got, want := sum256(f32bytes(y)), "3f397e3e1666679c6ec349051af7242bb69d5f0e8c4917c7af6540e13d533906"; got != want {
		t.Errorf("sha256(Q4_K dequantised) = %s, want %s", got, want)
	}
}

func TestNF4MatchesBitsandbytes(t *testing.T) {
	x := refNF4Input()
	q, err := QuantizeNF4(x, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(q.Packed[:8]), "925ab0016048e3d5"; got != want {
		t.Errorf("QuantizeNF4(ref).Packed[:8] = %s, want %s", got, want)
	}
	if got, want := sum256(q.Packed), "35cab88a6f5d2fa2bcc45f753bf2e1c53f08bc9ca1ede33f4e223b571e654f82"; got != want {
		t.Errorf("sha256(QuantizeNF4(ref).Packed) = %s, want %s", got, want)
	}
	if got, want := sum256(f32bytes(q.Absmax)), "0ea9b1afb716280ac2538214f6a3c1b2daa39c3eae442042da8ee481295e5276"; got != want {
		t.Errorf("sha256(QuantizeNF4(ref).Absmax) = %s, want %s", got, want)
	}
	w := make([]float32, len(x))
	q.Dequantize(w)
	if got, want := sum256(f32bytes(w)), "6122008b3f887badee104559f2e53de1d02ffa38b5ad117c32667b360e5148c8"; got != want {
		t.Errorf("sha256(dequantised NF4) = %s, want %s", got, want)
	}

	d, err := QuantizeNF4(x, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	// torch's float32 cascade sum rounds the mean one ulp away from the exact
	// mean here; the second-level scale follows it, the codes do not move.
	if got, want := math.Float32bits(d.Offset), uint32(0x40ab1247); ulpDiff(got, want) > 1 {
		t.Errorf("double-quant offset bits = %#x (%g), want %#x within 1 ulp", got, d.Offset, want)
	}
	if got, want := math.Float32bits(d.Absmax2[0]), uint32(0x409bc48b); ulpDiff(got, want) > 1 {
		t.Errorf("double-quant Absmax2[0] bits = %#x, want %#x within 1 ulp", got, want)
	}
	if got, want := sum256(d.QAbsmax), "9874e7de6cbad88976cc30800eedd920d38c598ea17cea431c1a401208f5601b"; got != want {
		t.Errorf("sha256(double-quant codes) = %s, want %s", got, want)
	}
	// each dequantised scale lies within half the widest DynamicMap gap
	// (times the block's second-level scale) of the true absmax
	var gap float32
	for i := 1; i < len(DynamicMap); i++ {
		gap = max(gap, DynamicMap[i]-DynamicMap[i-1])
	}
	ws := d.Scales()
	for b, a := range q.Absmax {
		if e, lim := abs32(ws[b]-a), d.Absmax2[b/NF4NestedBlockSize]*gap/2*1.0001; e > lim {
			t.Errorf("double-quant scale %d = %g, absmax %g: error %g > %g", b, ws[b], a, e, lim)
		}
	}
}

// dynamicMapTorchFirst is the start of create_dynamic_map() as torch 1.13
// computes it (float32 bit patterns); dynamicMapTorchSHA hashes all 256.
var dynamicMapTorchFirst = []uint32{0xbf7e3333, 0xbf7a9999, 0xbf770000, 0xbf736666, 0xbf6fcccc, 0xbf6c3333, 0xbf68999a, 0xbf650000}

const dynamicMapTorchSHA = "6d0ca9fed140bc2c31b9be3292029e22a209f6955020e65b13ceb5d7592f4e25"

func TestDynamicMapMatchesTorch(t *testing.T) {
	for i, w := range dynamicMapTorchFirst {
		if got := math.Float32bits(DynamicMap[i]); got != w {
			t.Errorf("DynamicMap[%d] = %#x (%g), want %#x", i, got, DynamicMap[i], w)
		}
	}
	if got := sum256(f32bytes(DynamicMap[:])); got != dynamicMapTorchSHA {
		t.Errorf("sha256(DynamicMap) = %s, want %s", got, dynamicMapTorchSHA)
	}
	if DynamicMap[0] >= DynamicMap[1] || DynamicMap[255] != 1 {
		t.Errorf("DynamicMap not ascending to 1: %v ... %v", DynamicMap[:2], DynamicMap[254:])
	}
}

func ulpDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestDynamicMapWithinAnULPOfFormula(t *testing.T) {
	f := dynamicMapFormula()
	for i := range f {
		if d := ulpDiff(math.Float32bits(f[i]), math.Float32bits(DynamicMap[i])); d > 2 {
			t.Errorf("dynamicMapFormula()[%d] = %g, DynamicMap[%d] = %g: %d ulps apart", i, f[i], i, DynamicMap[i], d)
		}
	}
}
