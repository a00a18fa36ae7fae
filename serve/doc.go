// Package serve is hone's OpenAI-compatible HTTP API over one base model
// and any number of LoRA adapters sharing its weights.
//
// Endpoints: POST /v1/chat/completions (the chat template is applied
// server-side), POST /v1/completions, GET /v1/models and /v1/models/{id},
// GET /healthz (503 while shutting down) and GET /metrics (Prometheus text
// format). A request names its model as the base name or "base:adapter".
// Both completion endpoints take max_tokens (max_completion_tokens for
// chat; Config.DefaultMaxTokens when absent, for both), temperature, top_p, seed, up to four stop strings, stream (server-
// sent events, with stream_options.include_usage), frequency_penalty and
// presence_penalty (-2 to 2, over the generated tokens, as OpenAI defines
// them), and report usage; the extensions top_k and repetition_penalty are
// accepted too. n must be 1, and logprobs are refused rather than ignored. Generation stops at the EOS ids of generation_config.json,
// the chat template's end-of-turn tokens (chat only), a stop string or the
// token budget (finish_reason "length"); a prompt that does not fit the
// model's context is a 400 with code context_length_exceeded, and
// max_tokens is cut to the room left. Chat message content may be a string
// or a list of text parts, which are concatenated in order; other part
// types (images, audio, files) are refused with a 400.
//
// response_format json_object and json_schema constrain decoding with
// generate.Constraint: at every step the tokens whose bytes would break the
// document (or the schema) are masked, and the answer ends as soon as the
// document is complete. The schemas are compiled once and kept with their
// per-state masks across requests.
//
// Scheduling: handlers queue requests (a bounded queue: when it is full
// the answer is 429 with Retry-After); one scheduler goroutine admits up to
// MaxBatch of them, runs their prompts a chunk at a time, and decodes one
// token for every running sequence per step with model.BatchDecoder, one
// batch per model variant (continuous batching: sequences join and leave
// between steps). A client that goes away cancels its sequence at the next
// step. Results reach handlers through a per-request outbox that never
// blocks the scheduler. Shutdown refuses new requests with 503, lets those
// in flight finish, then stops the scheduler.
//
// Errors use OpenAI's body, {"error": {"message", "type", "param",
// "code"}}: 400 for malformed JSON or parameters, 401 for a missing or
// wrong API key (when keys are configured), 404 for an unknown model or
// route, 405 (with an Allow header) for a known route with another method,
// 413 for a body over MaxRequestBytes, 429 when the queue is full, 503
// while shutting down. An error after a stream has started is sent as a
// data: {"error": {...}} event followed by data: [DONE].
//
// The metrics are written by hand in the exposition format: a few
// counters, gauges and histograms do not justify the Prometheus client
// library and its dependencies.
package serve
