// Package gguf reads and writes GGUF v3 files, the container llama.cpp,
// ollama and LM Studio load models from, and holds the data that ties a
// Hugging Face checkpoint to one: the HF <-> GGUF tensor-name table (one
// table for import and export), the Q/K row permutation llama.cpp's
// convert_hf_to_gguf.py applies to the llama architecture, and the metadata
// key names of the llama family and its tokenizer.
//
// Layout follows ggml's docs/gguf.md and ggml's own gguf.cpp: little-endian
// header (magic "GGUF", version, tensor count, key-value count), key-value
// pairs of 13 value types (arrays may nest), tensor infos with dimensions
// listed innermost first, zero padding to general.alignment (32 by default)
// before the data section, and every tensor's data at an aligned offset and
// padded to the alignment after it. A Shape in this package is row-major
// outermost first, as elsewhere in hone; the reader and writer reverse it to
// and from ggml's ne order.
//
// The reader validates everything before trusting it: counts and lengths are
// capped by the bytes left in the file (so hostile counts cannot allocate
// much), keys and tensor names must be unique, types known, rows a whole
// number of blocks, offsets aligned and inside the file. Errors name the file
// and the key or tensor at fault. Open maps the file read-only; tensors
// returned without conversion alias the mapping and must not be written.
//
// The writer streams: the header (metadata and tensor infos) is written
// first, then each tensor's data in declaration order, so a model is never
// held twice in memory; the file appears under its name only when Close
// succeeds (temporary file, fsync, rename).
//
// Quantised tensor types (Q8_0, Q4_0, Q4_K) use package quant, whose blocks
// are ggml's byte for byte. Go has no maintained GGUF library that writes
// (the existing readers are tied to their own runtimes), and the format is
// small, so it is implemented here.
package gguf
