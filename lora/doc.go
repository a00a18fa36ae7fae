// Package lora implements low-rank adapters (LoRA) on the linear layers of
// a model, interchangeable with Hugging Face PEFT in both directions.
//
// An Adapter wraps one linear layer y = x·Wᵀ: it adds scale·(x·Aᵀ)·Bᵀ with
// A [r, in] and B [out, r], where scale is alpha/r (or alpha/√r with
// rsLoRA). Only A and B train; the base weight stays frozen (and may stay
// in a read-only memory map). Merge folds an adapter into a plain weight,
// W + scale·B·A.
//
// A Set is every adapter of a model, keyed by the module names PEFT uses
// ("model.layers.0.self_attn.q_proj"). Sets load from and save to PEFT's
// folder layout: adapter_config.json and adapter_model.safetensors with keys
// like base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.
// Initialisation follows PEFT: A Kaiming-uniform (bound 1/√in), B zero, or
// Gaussian A with standard deviation 1/r.
//
// Gradients accumulate (+=) into each adapter's GradA and GradB, like every
// backward in hone.
package lora
