// Package tokenizer reads Hugging Face tokenizer.json files and encodes and
// decodes text exactly as the Hugging Face tokenizers library does, in pure
// Go. It also imports llama2.c tokenizer.bin files into that form.
//
// # Pipeline
//
// Encode follows TokenizerImpl::encode step by step:
//
//  1. Added tokens that are not "normalized" (all special tokens, such as
//     <|eot_id|>) are found in the original text, leftmost-longest, with
//     their single_word, lstrip and rstrip rules; they are always matched.
//  2. Each stretch of text between them is normalized on its own (NFC, NFD,
//     NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence), then the
//     "normalized" added tokens are found in it.
//  3. The pre-tokenizer cuts the rest into words (Split with its regex and
//     behaviour, ByteLevel with or without its regex, Metaspace, Digits,
//     Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, Sequence).
//  4. The BPE model tokenizes each word: characters (or their <0xXX> bytes
//     with byte_fallback, or the unknown token, fused or not), then merges
//     by rank, lowest rank and then leftmost first (Word::merge_all);
//     ignore_merges takes a word that is in the vocabulary as is.
//  5. The post-processor (TemplateProcessing, ByteLevel, Bert/Roberta,
//     Sequence) adds BOS/EOS when asked.
//
// Every piece carries, per byte, the range of the original text it came
// from, so EncodeOffsets reports byte offsets in the original text through
// any normalizer. Decode maps ids to tokens and runs the decoder chain
// (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder,
// Sequence); invalid UTF-8 becomes U+FFFD as Rust's from_utf8_lossy does.
//
// Encoding is checked row by row against the reference encodings made with
// Hugging Face tokenizers for Llama 2, Llama 3, Qwen 3 and two small
// trained tokenizers (the conformance test).
//
// # Regular expressions
//
// Hugging Face compiles Split patterns with Oniguruma. Go's regexp has no
// lookahead, which the standard patterns need (\s+(?!\S)), so the three
// well-known patterns (Llama 3 / cl100k, Qwen 2 and GPT-2's, recognised by
// their exact text) have hand-written matchers, and any other pattern runs
// on github.com/dlclark/regexp2, a backtracking engine with lookarounds.
// The matchers are tested and fuzzed against regexp2. The one known
// difference is Oniguruma's case folding of U+017F (ſ) to s under (?i),
// which the matchers follow and regexp2 does not.
//
// # Speed
//
// For byte-level tokenizers whose pre-tokenizer is a Split followed by
// ByteLevel (Llama 3, Qwen) or ByteLevel with its regex, a fast path splits
// the raw text with the hand-written matcher and runs BPE on raw bytes,
// never building the byte-level strings; it is tested to give the same ids
// as the general pipeline. Tokenized words go through a lock-free,
// fixed-size cache. A Tokenizer is immutable after loading and safe for
// concurrent use; EncodeBatch spreads a batch over GOMAXPROCS goroutines.
// Loading reads the vocabulary and merges with a small purpose-built JSON
// reader (encoding/json is several times slower on 280k merges) and
// resolves merges to ids in parallel.
//
// # Not supported
//
// Models other than BPE (WordPiece, Unigram, WordLevel), the Precompiled
// and Bert normalizers, pair encodings, truncation and padding (kept in the
// file and written back by Save, but not applied), and BPE dropout (which
// only matters in training; encoding is deterministic). Unsupported
// constructs are load errors that name the file and the construct.
//
// # llama2.c and writing tokenizers
//
// FromLlama2C converts a tokenizer.bin into the Llama 2 form of
// tokenizer.json (see its documentation); Save writes any Tokenizer as
// tokenizer.json, atomically, and TokenizerConfigJSON gives the matching
// tokenizer_config.json. A BPE trainer builds a tokenizer the same way:
// vocabulary and merges into the model, components as tokenizer.json
// fragments, then Save.
//
// No library fits: the Go ports of tokenizers either wrap the Rust library
// through cgo (this project builds without cgo) or do not reproduce the
// pipeline (added-token rules, offsets, byte fallback, ignore_merges) bit
// for bit.
package tokenizer
