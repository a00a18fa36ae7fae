// Package data turns dataset files into what the trainer consumes, and
// checks them first.
//
// The stages, in the order a run goes through them:
//
//   - Reading (Reader): JSONL, JSON arrays and CSV, streamed row by row with
//     the 1-based line on which each row starts (the extension chooses the
//     container: .jsonl is always read line by line, and nothing may follow
//     a .json array), in five formats that are
//     detected from the keys of the rows or named explicitly: Alpaca,
//     prompt-completion, chat (OpenAI messages, with per-message weight and
//     tool calls), ShareGPT and plain text. Every format becomes one
//     normalised Example: a conversation of chat.Messages, or a text.
//   - Checking (Checker): the dataset doctor. It reports every problem with
//     its file, line and kind: structural ones from the reader, exact and
//     near duplicates (MinHash over word shingles with LSH banding),
//     conflicting answers to one prompt, train/validation overlap, examples
//     over the context length or with nothing to train, and JSON targets
//     that do not parse or do not satisfy a JSON Schema; and summary
//     statistics of the rendered token lengths.
//   - Rendering (Render): a conversation goes through a chat template
//     (chat.Template) and the tokenizer; labels are the token ids where the
//     model is trained (assistant turns, their end-of-turn marker included)
//     and IgnoreIndex (-100) elsewhere, in the unshifted layout of
//     transformers: the trainer shifts.
//   - Preparing: Split (deterministic, near duplicates kept on one side),
//     Mix (a general-purpose set at a given share), Shuffle, Pack (several
//     examples per row with positions restarting and segment ids that keep
//     attention inside each example), and binary shards with a manifest,
//     which LoadPrepared reads back (checked against the manifest's
//     hashes) for a run whose data.train names the prepared folder.
//   - Plain text (ReadPlainText): one text example per paragraph, for the
//     forgetting probe's general text.
//
// Streaming and cost: the Checker holds one chunk of rows at a time plus,
// per example, an index entry of about 500 bytes (hashes of the normalised
// example and prompt, an 8-bit MinHash signature and its LSH band keys);
// rows are read by one goroutine while GOMAXPROCS workers render the chunk
// before. BenchmarkCheck on 100k synthetic chat examples (37 MB, 2-core
// AMD Zen 4): about 37 CPU-µs per example for the structural checks and
// 110 with rendering through Qwen3's template and tokenizer, most of it in
// the Jinja engine and BPE.
//
// Nothing here prints or exits; the command line (hone data) does.
//
// Why no library: Go has no dataset library for LLM fine-tuning (the
// Python world's datasets/axolotl/LLaMA-Factory code paths have no Go
// counterpart), and the pieces are small: encoding/json and encoding/csv
// read the rows, MinHash is a hundred lines, and JSON Schema validation
// comes from github.com/santhosh-tekuri/jsonschema/v6.
package data
