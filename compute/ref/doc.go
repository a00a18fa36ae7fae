// Package ref is the reference implementation of hone's op set: plain,
// obviously-correct Go that every fast kernel (compute/cpu, the CUDA backend)
// is tested against.
//
// Each op family lives in a file of its own (matmul.go, norm.go, rope.go,
// attention.go, swiglu.go, loss.go, embed.go, elementwise.go) as free
// functions over flat, row-major slices, generic over float32 and float64,
// with the forward and its backward side by side. The float64 instantiation
// exists so that every backward can be checked against central finite
// differences; the float32 one is what Engine runs.
//
// Engine adapts these functions to compute.Engine for F32 tensors. Weights
// (the b operand of MatMul, norm weights, biases and embedding tables) may
// also be BF16 (or F16): they are widened to float32 exactly with
// tensor.BF16ToF32 (F16ToF32) a row at a time, so a half-precision model is
// never copied whole and gives the same sums as its float32 widening.
// compute/cpu embeds Engine and inherits every op it does not specialise.
//
// # Conventions
//
// The semantics are those of Hugging Face transformers in float32:
//
//   - RMSNorm: y = w * (x * rsqrt(mean(x²) + eps)), the product x*rsqrt
//     rounded to F before the weight is applied, as LlamaRMSNorm does.
//   - RoPE: rotate_half on each head: halves (x1, x2) become
//     (x1·cos - x2·sin, x2·cos + x1·sin); the backward rotates by -angle.
//   - Attention: softmax(Scale·q·kᵀ + mask)·v with the causal, KV-cache and
//     packing masks of compute.AttnShape, grouped-query heads, and the
//     log-sum-exp of each row saved for a flash-attention style backward
//     (P is recomputed from lse; dS = P∘(dP - D) with D = rowsum(dout∘out)).
//   - SwiGLU: silu(g)·u with silu(g) = g·sigmoid(g).
//   - CrossEntropy: a stable log-softmax per row, the loss summed in float64,
//     rows labelled compute.IgnoreIndex skipped, fused with its gradient.
//
// Every backward accumulates (+=) into the gradients it is given; a nil
// gradient means "not needed" and is skipped. RoPE and its backward work in
// place, and CrossEntropy overwrites dlogits (which may alias logits).
//
// Shape mismatches are broken invariants inside the engine, not bad user
// input: they panic with a message that names the op and the operands.
// Reductions accumulate in F, in index order, except where noted (the RMSNorm
// mean of squares and the cross-entropy sum use float64), so results are
// deterministic and the float32 engine is bit-for-bit repeatable.
package ref
