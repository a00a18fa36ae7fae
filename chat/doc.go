// Package chat renders conversations with chat templates and locates every
// message in the rendered text, so that training can mask the loss to the
// assistant's tokens.
//
// A Template is the Jinja chat_template of a tokenizer folder (Load: the
// transformers-5 chat_template.jinja, or tokenizer_config.json's
// chat_template, a string or a list of named variants), a built-in format
// for data without one (Named: chatml, llama3, alpaca), or any Jinja string
// (Parse). Rendering matches transformers' apply_chat_template: the same
// variables (messages, tools, add_generation_prompt, bos_token, eos_token,
// extra keyword arguments such as enable_thinking), the same
// trim_blocks/lstrip_blocks whitespace rules, raise_exception,
// strftime_now, and a tojson filter that writes exactly what Python's
// json.dumps writes (", " and ": " spacing, key order kept, floats as
// Python prints them, no HTML escaping).
//
// Templates run on github.com/ardanlabs/jinja, a pure-Go engine written for
// chat templates. hone adapts two things around it, both in rewrite.go: its
// tojson is replaced (the engine's built-in filters cannot be overridden,
// and its float and indent output differ from Python's), and a separator
// is put between adjacent tags because the engine applies whitespace
// control to the nearest text even across other tags.
//
// A chat template comes from a model's files, so it is untrusted code, and
// the engine has no limits of its own (a recursive macro would end the
// process with a fatal stack overflow). guard.go bounds it from outside:
// Parse refuses sources nested too deeply, and inserts calls that bound
// every rendering's macro recursion, loop iterations and output, beside a
// range() of bounded length; going over a limit is an error wrapping
// ErrLimit.
//
// Render returns the text and, per message, the byte range of the whole
// message, of its content, and for assistant messages the trained range:
// what the model generates after the generation prompt, up to and
// including the end-of-turn marker. The ranges are found by rendering with
// placeholder contents and by prefix renderings, and checked against the
// real text; a template that makes them ambiguous is an error, never a
// guess (see Render).
package chat
