// Package quant holds the block quantisation formats hone stores weights in,
// bit-compatible with the tools that define them:
//
//   - NF4 (QLoRA's 4-bit NormalFloat) exactly as bitsandbytes defines it:
//     16 code values, blocks of 64 weights with a float32 absmax scale, two
//     codes per byte with the first in the high nibble, and optional double
//     quantisation of the absmax scales (an fp32 mean offset, then blocks of
//     256 scales quantised to 8 bits against bitsandbytes' signed dynamic map
//     with a float32 absmax per block).
//   - Int8 per output channel (LLM.int8's vector-wise absmax, without the
//     outlier decomposition): one float32 absmax per row, codes
//     round(x·127/absmax).
//   - Q8_0, Q4_0 and Q4_K exactly as ggml defines them (quantize_row_*_ref and
//     dequantize_row_*): the GGUF export writes these bytes unchanged.
//
// Every format has a packed storage type, a Quantize function over a
// []float32 row (or a flat tensor) and a Dequantize method, and per-block
// helpers for a GEMM that dequantises one tile at a time: DequantizeBlock
// writes one block into a caller buffer and the Dot helpers fuse dequantise
// and dot product so a matrix-vector kernel never materialises the weights.
//
// Arithmetic is float32 and unfused, step for step as the reference code
// writes it (ggml's C, bitsandbytes' torch ops), so codes agree bit for bit
// with a reference built without FMA contraction. Half-precision scales use
// round-to-nearest-even (tensor.F32ToF16), as ggml's GGML_FP32_TO_FP16 does.
//
// No Go library implements these formats bit-exactly (the existing ones
// either wrap ggml through cgo, which hone avoids, or approximate the
// rounding), so they are written here from the reference sources.
package quant
