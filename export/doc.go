// Package export writes a trained model in the forms other tools run, and
// checks every export against the model it came from.
//
// Formats:
//
//   - hf: a merged Hugging Face folder (config.json, model.safetensors in
//     the base's dtype, tokenizer files, generation_config.json with the
//     base's end-of-sequence ids) that transformers loads.
//   - peft: the LoRA adapter folder alone, for PEFT, vLLM or llama.cpp's
//     own converter.
//   - gguf: a GGUF v3 file for llama.cpp and Ollama (WriteGGUF): the
//     architecture metadata, tensors under llama.cpp's names with the Q/K
//     row permutation its llama architecture expects, the vocabulary
//     (TokenizerMeta: tokens, scores, token types, merges, BOS/EOS/pad
//     ids, add-BOS flag) and the chat template; F32, F16, BF16, Q8_0, Q4_0
//     and the Q4_K_M mix. A LoRA adapter can be written as a llama.cpp
//     adapter file instead of being merged (WriteAdapterGGUF), and an
//     Ollama Modelfile (Modelfile) carries FROM, ADAPTER, the chat template
//     translated into Ollama's Go template (OllamaTemplate) and a stop
//     parameter for every end-of-turn marker.
//
// Reading back: ReadGGUF loads a GGUF file into a hone model (weights
// dequantised, Q/K rows un-permuted through the same name table the writer
// uses) with its tokenizer rebuilt from the GGUF vocabulary
// (TokenizerFromMeta) and its chat template; ReadAdapterGGUF attaches a
// GGUF adapter. Open takes a Hugging Face folder or a GGUF file alike.
//
// The parity gate: Export writes the output under a temporary name, reads
// it back and runs Parity against the in-memory model — logits on fixed
// prompts within the export type's Tolerance of the logit range, identical
// tokenization and decoding, identical chat-template rendering, a shared
// end-of-generation id — and renames it into place only when all agree.
// `hone parity A B` runs the same check between any two models.
//
// QLoRA: a projection stored as NF4 is exported dequantised (weightOf),
// and lora.Adapter.Merge folds an adapter into the dequantised NF4 weights,
// so an export of a QLoRA run writes the weights the adapter was trained
// against.
//
// No Go library writes GGUF with llama.cpp's conventions or translates
// Jinja chat templates for Ollama, so this package does both on top of
// hone's gguf, tokenizer and chat packages.
package export
