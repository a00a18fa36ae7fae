// Package generate produces text from a model: a KV-cached decoding loop with
// greedy decoding or sampling (temperature, top-k, top-p, repetition penalty,
// a seeded generator), stopping on end-of-sequence tokens, stop strings or a
// token budget, streaming text as it is produced.
//
// Logits pass through an ordered list of Processors before a token is
// chosen, the same order as transformers' generate: repetition penalty, any
// caller-supplied processors (constrained decoding plugs in here),
// temperature, top-k, top-p.
package generate
