// Package api holds the wire types of hone's OpenAI-compatible HTTP API:
// the request and response bodies of /v1/chat/completions,
// /v1/completions and /v1/models, the streamed chunks, and the error body.
// Field names and shapes follow OpenAI's API reference, so that OpenAI
// clients work unchanged; fields hone adds are marked as extensions.
package api

import (
	"encoding/json"
	"fmt"

	"hone/chat"
)

// Stop is the stop parameter: a string or a list of strings.
type Stop []string

// UnmarshalJSON accepts a string, a list of strings or null.
func (s *Stop) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("stop must be a string or a list of strings")
	}
	*s = many
	return nil
}

// Sampling holds the parameters the two completion endpoints share.
type Sampling struct {
	// Model names the model: the base model's name, or "base:adapter".
	Model string `json:"model"`
	// MaxTokens bounds the generated tokens (nil: the server's default).
	MaxTokens *int `json:"max_tokens,omitempty"`
	// Temperature is the sampling temperature, 0 to 2 (nil: 1).
	Temperature *float64 `json:"temperature,omitempty"`
	// TopP is nucleus sampling's probability mass (nil: 1).
	TopP *float64 `json:"top_p,omitempty"`
	// TopK keeps the K most likely tokens (extension; nil or 0: all).
	TopK *int `json:"top_k,omitempty"`
	// RepetitionPenalty > 1 discourages repeated tokens (extension).
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
	// Seed makes sampling reproducible.
	Seed *int64 `json:"seed,omitempty"`
	// Stop lists up to 4 strings that end generation.
	Stop Stop `json:"stop,omitempty"`
	// Stream sends the answer as server-sent events.
	Stream bool `json:"stream,omitempty"`
	// StreamOptions.IncludeUsage adds a final chunk with the usage.
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
	// N is the number of choices; only 1 is supported.
	N *int `json:"n,omitempty"`
	// FrequencyPenalty and PresencePenalty are accepted only as 0.
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	// Logprobs is not supported (only false).
	Logprobs json.RawMessage `json:"logprobs,omitempty"`
	// User is an end-user id, ignored.
	User string `json:"user,omitempty"`
}

// StreamOptions are the options of a streamed response.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	Sampling
	// Messages is the conversation so far.
	Messages []chat.Message `json:"messages"`
	// MaxCompletionTokens is the newer name of max_tokens.
	MaxCompletionTokens *int `json:"max_completion_tokens,omitempty"`
	// ResponseFormat asks for JSON output (json_object or json_schema).
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
	// Tools are passed to the chat template (tool calls are not parsed
	// back out of the answer).
	Tools []json.RawMessage `json:"tools,omitempty"`
}

// ResponseFormat is {"type": "text" | "json_object" | "json_schema"}.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict,omitempty"`
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Sampling
	// Prompt is a string or a list of one string.
	Prompt json.RawMessage `json:"prompt"`
	// Echo prepends the prompt to the completion.
	Echo bool `json:"echo,omitempty"`
}

// Usage counts the tokens of a request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Message is an answer's message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatChoice is one choice of a chat completion.
type ChatChoice struct {
	Index        int      `json:"index"`
	Message      Message  `json:"message"`
	FinishReason string   `json:"finish_reason"`
	Logprobs     *float64 `json:"logprobs"`
}

// ChatCompletion is the response of a non-streamed chat completion.
type ChatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"` // "chat.completion"
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []ChatChoice `json:"choices"`
	Usage             Usage        `json:"usage"`
}

// Delta is the new part of a streamed message.
type Delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// ChunkChoice is one choice of a streamed chunk.
type ChunkChoice struct {
	Index        int      `json:"index"`
	Delta        Delta    `json:"delta"`
	FinishReason *string  `json:"finish_reason"`
	Logprobs     *float64 `json:"logprobs"`
}

// ChatCompletionChunk is one server-sent event of a streamed chat
// completion.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
}

// CompletionChoice is one choice of a text completion.
type CompletionChoice struct {
	Text         string   `json:"text"`
	Index        int      `json:"index"`
	FinishReason *string  `json:"finish_reason"`
	Logprobs     *float64 `json:"logprobs"`
}

// Completion is the response (or, streamed, each event) of a text
// completion.
type Completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"` // "text_completion"
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *Usage             `json:"usage,omitempty"`
}

// Model describes one servable model.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the response of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // "list"
	Data   []Model `json:"data"`
}

// Error is OpenAI's error object.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorResponse is the body of every error answer: {"error": {...}}.
type ErrorResponse struct {
	Error Error `json:"error"`
}
