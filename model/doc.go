// Package model is the Llama family of decoder-only transformers: Llama 2 / 3
// / 3.1 / 3.2, TinyLlama, SmolLM2, Mistral, Qwen2 / 2.5 and Qwen3.
//
// A model is a Config (read from a Hugging Face config.json, as written by
// transformers 4 or 5) and Weights, a plain struct of named tensors whose
// names are the checkpoint keys, resolved through one explicit table
// (Weights.Params) that serves loading and saving alike. The forward pass,
// the backward pass and generation's KV cache are written against the op
// set of package compute, never against tensor storage directly, so that the
// reference, fast CPU and future GPU engines all run the same model code.
//
// The variants differ only in data: Qwen2 adds q/k/v biases, Qwen3 adds
// per-head RMSNorm of q and k, Llama 3.1 scales RoPE frequencies, tied models
// share the embedding with the LM head. Every such difference is a field of
// Config, checked when the config is read.
package model
