package compute

import "hone/tensor"

// Engine is the complete op set of a Llama-family decoder, forward and
// backward.
type Engine interface {
	// Name identifies the implementation, e.g. "ref" or "cpu/avx512".
	Name() string
	MatMuler
	Elementwise
	Embedder
	Normalizer
	Rotator
	Attender
	Activator
	Loss
}

// MatMuler multiplies matrices: nearly all the work of training and inference.
type MatMuler interface {
	// MatMul computes op(a)·op(b) into c, or adds it to c when acc is true.
	// op(x) is x, or x transposed when ta (tb) is set: with ta, a is stored
	// [k, m]; with tb, b is stored [n, k] (the layout of a linear layer's
	// weight). c is [m, n]. a and c are F32; b may be F32 or BF16.
	//
	// A linear layer y = x·Wᵀ is MatMul(y, x, W, false, true, false); its
	// backward is MatMul(dx, dy, W, false, false, true) and
	// MatMul(dW, dy, x, true, false, true).
	MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool)
	// AddBias adds bias [n] to every row of y [m, n].
	AddBias(y, bias *tensor.Tensor)
	// AddBiasBackward accumulates the column sums of dy [m, n] into dbias [n].
	AddBiasBackward(dbias, dy *tensor.Tensor)
}

// Elementwise holds the element-by-element ops on F32 tensors of equal size.
type Elementwise interface {
	// Add sets dst = a + b (dst may alias a or b).
	Add(dst, a, b *tensor.Tensor)
	// AddScaled sets dst += alpha * x.
	AddScaled(dst, x *tensor.Tensor, alpha float32)
	// Scale sets x *= alpha.
	Scale(x *tensor.Tensor, alpha float32)
}

// Embedder looks rows up in an embedding table.
type Embedder interface {
	// Embed copies row ids[i] of table [vocab, d] into row i of out [len(ids), d].
	Embed(out, table *tensor.Tensor, ids []int32)
	// EmbedBackward accumulates row i of dout into row ids[i] of dtable.
	EmbedBackward(dtable, dout *tensor.Tensor, ids []int32)
}

// Normalizer holds RMS normalisation, the Llama family's only norm.
type Normalizer interface {
	// RMSNorm sets out[i] = x[i] / sqrt(mean(x[i]²) + eps) * w for every row
	// i of x [n, d] (computed in float32 whatever w's dtype, as transformers
	// does). When rstd [n] is not nil it receives 1/sqrt(mean(x²)+eps) per
	// row, for the backward.
	RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor)
	// RMSNormBackward accumulates the gradients of x (dx) and of the weight
	// (dw, may be nil) given dout and what the forward saved.
	RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor)
}

// Rotator applies rotary position embeddings in Hugging Face's convention:
// each head of width hd is split into halves (x1, x2) rotated as
// (x1·cos - x2·sin, x2·cos + x1·sin).
type Rotator interface {
	// RoPE rotates x [n, heads*hd] in place; row i sits at position pos[i].
	// The tables cos and sin are [maxPos, hd/2] (model.Config.RopeTables
	// builds them), so every scaling (llama3, linear, dynamic, yarn) is in the
	// table, not the op.
	RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor)
	// RoPEBackward rotates the gradient dx in place by the opposite angle.
	RoPEBackward(dx *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor)
}

// AttnShape describes a batch of causal, grouped-query attention problems.
//
// There are Batch sequences. Sequence b has Tq queries, rows [b*Tq, (b+1)*Tq)
// of q and out, and Tk keys/values, rows [b*Tk, (b+1)*Tk) of k and v. Query i
// sits at position QOffset+i and key j at position j; query i attends to key j
// when j <= QOffset+i and, when Seg is not nil, Seg[b*Tk+j] equals
// Seg[b*Tk+QOffset+i] (packed examples do not see each other; Seg requires
// Tq == Tk and QOffset == 0). Training uses Tq == Tk and QOffset 0; decoding
// with a KV cache uses Tq new tokens after QOffset cached ones.
type AttnShape struct {
	Batch, Tq, Tk, QOffset  int
	Heads, KVHeads, HeadDim int
	// Scale multiplies q·k before the softmax, normally 1/sqrt(HeadDim).
	Scale float32
	// Seg holds a segment id per key row (Batch*Tk), or nil.
	Seg []int32
	// BF16 lets an engine take the products' operands (queries, keys,
	// values, probabilities and, in the backward, the output's gradient
	// and dS) rounded to bf16, with float32 sums, as the bf16 mode's
	// other products take their activations; the forward and the
	// backward of one shape must then agree. The softmax, its maxima,
	// sums and log-sum-exps stay float32. Engines without bf16 products
	// ignore it.
	BF16 bool
}

// Attender computes attention without materialising more than a tile of the
// Tq x Tk score matrix at a time in fast engines.
type Attender interface {
	// Attention sets out [Batch*Tq, Heads*HeadDim] from q [Batch*Tq,
	// Heads*HeadDim], k and v [Batch*Tk, KVHeads*HeadDim]. Query head h uses
	// key/value head h / (Heads/KVHeads). k and v are F32, or both BF16
	// (a bf16 key/value cache: widened exactly, or, where an engine says
	// so, taken as they are in bf16 products, as with AttnShape.BF16); the
	// backward takes F32. When lse is not nil, it receives the log-sum-exp
	// of each softmax row, laid out [Batch, Heads, Tq], which is all that
	// the backward needs besides the inputs and out.
	Attention(out, q, k, v, lse *tensor.Tensor, s AttnShape)
	// AttentionBackward accumulates dq, dk, dv from dout.
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s AttnShape)
}

// Activator holds the gated MLP activation.
type Activator interface {
	// SwiGLU sets out = silu(gate) * up, elementwise.
	SwiGLU(out, gate, up *tensor.Tensor)
	// SwiGLUBackward accumulates dgate and dup from dout.
	SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor)
}

// IgnoreIndex is the label that takes no part in the loss, as in PyTorch.
const IgnoreIndex = -100

// Loss holds the causal-LM cross-entropy, fused with its gradient so that a
// large vocabulary is processed a chunk of rows at a time.
type Loss interface {
	// CrossEntropy returns the sum over rows i of -log softmax(logits[i])[labels[i]]
	// and the number of rows counted, skipping rows labelled IgnoreIndex.
	// When dlogits is not nil it receives (overwrites, an exception to the
	// accumulate rule since logits are scratch) gradScale * (softmax - onehot)
	// for counted rows and zeros for ignored ones; dlogits may alias logits.
	// The sum is accumulated in float64.
	CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gradScale float32) (sum float64, count int)
}
