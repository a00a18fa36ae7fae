package data

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"hone/chat"
)

// Format is the shape of the rows of a dataset.
type Format string

// The dataset formats. FormatAuto detects the format from the keys of the
// first row that has any known key.
const (
	FormatAuto             Format = ""
	FormatAlpaca           Format = "alpaca"            // instruction, input, output, optional system and history
	FormatPromptCompletion Format = "prompt-completion" // prompt, completion
	FormatChat             Format = "chat"              // messages (OpenAI): role, content, weight, tool_calls
	FormatShareGPT         Format = "sharegpt"          // conversations: from, value
	FormatText             Format = "text"              // text, for continued pre-training
)

// Formats lists the formats that can be named, in the order detection
// tries them.
var Formats = []Format{FormatChat, FormatShareGPT, FormatAlpaca, FormatPromptCompletion, FormatText}

// ParseFormat reads a format name; "" and "auto" mean FormatAuto.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return FormatAuto, nil
	case "completion", "prompt_completion":
		return FormatPromptCompletion, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown data format %q (want auto, chat, sharegpt, alpaca, prompt-completion or text)", s)
}

// RoleInput is the role of the message that carries an Alpaca row's
// "input" field. It follows the instruction (a "user" message). Templates
// that know it (the built-in alpaca template) give it its own section;
// for every other template Render merges it into the user message before,
// separated by a blank line.
const RoleInput = "input"

// Example is one row of a dataset, normalised: a conversation or, for
// continued pre-training, a text.
type Example struct {
	// File and Line locate the row: the 1-based line on which it starts.
	File string
	Line int
	// Format is the format the row was read as.
	Format Format
	// Messages is the conversation (nil for text examples). Roles are
	// system, user, assistant, tool and, for Alpaca, RoleInput.
	Messages []chat.Message
	// Weights says, per message, whether it is trained: only assistant
	// messages with weight true (the default; OpenAI's "weight": 0 turns
	// one off) contribute to the loss.
	Weights []bool
	// Tools are the tool (function) definitions offered in the
	// conversation, as raw JSON objects.
	Tools []json.RawMessage
	// Text is the document of a text example.
	Text string
}

// IsText reports whether ex is a plain-text example.
func (ex *Example) IsText() bool { return ex.Messages == nil }

// lastAssistant returns the index of the last assistant message, or -1.
func (ex *Example) lastAssistant() int {
	for i := len(ex.Messages) - 1; i >= 0; i-- {
		if ex.Messages[i].Role == "assistant" {
			return i
		}
	}
	return -1
}

// Target returns what the model learns to produce last: the content of
// the final assistant message (its tool calls as JSON when it has no
// text), or the text of a text example.
func (ex *Example) Target() string {
	if ex.IsText() {
		return ex.Text
	}
	i := ex.lastAssistant()
	if i < 0 {
		return ""
	}
	return messageText(&ex.Messages[i])
}

// messageText is a message's text, with its tool calls appended as JSON.
func messageText(m *chat.Message) string {
	s := m.Text()
	for _, tc := range m.ToolCalls {
		s += "\n" + tc.Function.Name + string(tc.Function.Arguments)
	}
	return s
}

// Prompt returns everything before the last assistant message, one
// "role: text" line per message; "" for text examples.
func (ex *Example) Prompt() string {
	if ex.IsText() {
		return ""
	}
	i := ex.lastAssistant()
	if i < 0 {
		i = len(ex.Messages)
	}
	var b strings.Builder
	for _, m := range ex.Messages[:i] {
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(messageText(&m))
		b.WriteByte('\n')
	}
	for _, t := range ex.Tools {
		b.WriteString("tool: ")
		b.Write(t)
		b.WriteByte('\n')
	}
	return b.String()
}

// Normalize folds text for duplicate detection: lower case, punctuation
// and symbols dropped, runs of white space made one space.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
		}
	}
	return b.String()
}
