// Package safetensors reads and writes checkpoints in the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor name to its dtype, shape and
// [begin, end) byte offsets (plus an optional "__metadata__" object of
// strings), then the tensors' raw little-endian bytes.
//
// Reading is lazy and zero-copy. Open maps the file read-only and validates
// the whole header up front — the length against the file and a 100 MiB cap,
// the JSON, every dtype, shape and offset, and that the tensors tile the data
// section exactly with no overlap and no stray bytes, as the reference
// implementation demands — so that Tensor can then hand out views of the
// mapping without further checks and without copying. Loading a 135M
// parameter model is a header parse and a few hundred slice headers; pages
// are read from disk (or shared from the page cache) only when a kernel
// touches them. Those views are read-only memory: writing to a frozen weight
// faults, so code that trains a tensor in place must Clone it first.
// (model.LoadWeights copies the weight matrices out of the mapping anyway,
// into one block of huge pages in the order decoding reads them, and
// releases each tensor's mapped pages with ReleaseTensor as it goes.) Every
// error names the file and, where it applies, the tensor.
//
// A Hugging Face model folder holds either model.safetensors or shards listed
// by model.safetensors.index.json; OpenModel opens either as a Set with the
// same Names/Info/Tensor methods as a File. OpenFiles combines arbitrary
// files.
//
// Write produces the same bytes as the Python library's save_file, atomically
// (temporary file, fsync, rename). WriteSharded splits a checkpoint into
// shards plus an index the way transformers' save_pretrained does.
//
// Why not a library: the format is small, and what a Go port of the
// reference parser (github.com/nlpodyssey/safetensors) offers — decoding a
// byte buffer into its own view type — is the smallest part of this package.
// Mapping files, lazy per-tensor access in hone's tensor type, sharded
// folders, byte-identical atomic writes and errors that name the file and
// tensor would all remain ours to write, behind an extra dependency.
package safetensors
