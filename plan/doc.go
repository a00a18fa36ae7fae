// Package plan answers the questions asked before training: is fine-tuning
// the right tool at all or is retrieval (Advise), which base models hone
// runs (Families), and which technique and settings fit the hardware
// (Recommend, from a model's config alone).
//
// The planner counts bytes the way the implementation holds them, from a
// Profile: weights, fp32 master weights, gradients and Adam's two moments
// for the trainable parameters, the activations each layer keeps for its
// backward pass (with and without gradient checkpointing), the logits and
// their gradient, LoRA's per-module buffers, NF4 storage with
// double-quantised scales for QLoRA, and a fixed runtime overhead. Two
// profiles exist: Torch, the CUDA mixed-precision setup of transformers,
// PEFT and bitsandbytes that the published figures describe (7B: QLoRA
// ~6 GB, LoRA ~16 GB, full ~120 GB), and Hone, the tensors hone's own CPU
// trainer allocates (model.Activations, train.AdamW, lora adapters), so that
// a test can hold the estimate against hone's measured peak memory.
//
// Time per epoch is FLOPs per token (matrix products and attention; 3x the
// forward pass for full training, 2x for adapters, plus a forward when
// checkpointing) over a sustained FLOP rate, plus QLoRA's dequantisation.
//
// No library does this for Go programs; the Python estimators (accelerate's
// estimate-memory, the HF model memory calculator) count weights and
// optimizer state only, not activations, logits or adapters.
package plan
