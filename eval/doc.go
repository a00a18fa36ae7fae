// Package eval measures a fine-tuned model against its base: held-out loss
// and perplexity, task metrics on generations (exact match, JSON validity,
// JSON-schema conformance, per-field accuracy, ROUGE-L), a forgetting probe
// (perplexity on general text before and after), verdicts with thresholds,
// and the report written as report.json, report.md and a self-contained
// report.html with its plots inline.
package eval
