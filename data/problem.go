package data

import "fmt"

// Kind classifies a Problem.
type Kind string

// The problem kinds the reader and the Checker report.
const (
	KindMalformedJSON   Kind = "malformed-json"   // a line (or array element) that is not a JSON object
	KindMalformedCSV    Kind = "malformed-csv"    // a CSV record that cannot be read (quotes, field count)
	KindUnknownFormat   Kind = "unknown-format"   // a row with none of the keys of a known format
	KindMissingField    Kind = "missing-field"    // a required key is absent
	KindEmptyField      Kind = "empty-field"      // a required value is empty
	KindBadField        Kind = "bad-field"        // a value of the wrong type or shape
	KindUnknownRole     Kind = "unknown-role"     // a message role the formats do not define
	KindNoAssistantEnd  Kind = "no-assistant-end" // a conversation whose last turn is not the assistant's
	KindDuplicate       Kind = "duplicate"        // the same example (after normalisation) as an earlier row
	KindNearDuplicate   Kind = "near-duplicate"   // almost the same example as an earlier row (MinHash)
	KindConflict        Kind = "conflict"         // the same prompt as an earlier row with a different answer
	KindOverlap         Kind = "overlap"          // a validation example that is also in the training data
	KindTooLong         Kind = "too-long"         // more tokens than the context length
	KindUntrained       Kind = "untrained"        // nothing in the example is trained (the mask is all zeros)
	KindRender          Kind = "render"           // the chat template cannot render the example
	KindInvalidJSON     Kind = "invalid-json"     // a target that should be JSON and is not
	KindSchemaViolation Kind = "schema-violation" // a JSON target that does not satisfy the schema
)

// Problem is one thing wrong with one row of a dataset. Problems that
// involve two rows (duplicates, conflicts, overlap) name the other row,
// which is always the earlier one (for overlap: the training row).
type Problem struct {
	File      string `json:"file"`
	Line      int    `json:"line"` // 1-based line on which the row starts
	Kind      Kind   `json:"kind"`
	Message   string `json:"message"`
	OtherFile string `json:"other_file,omitempty"`
	OtherLine int    `json:"other_line,omitempty"`
}

// String formats p as "file:line: kind: message".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Kind, p.Message)
}

// UnusableError is the error of a file that cannot be read as a dataset
// at all: empty, binary, not UTF-8, a line over the size limit, or not
// one row in a known container.
type UnusableError struct {
	File   string
	Line   int // 0 when the problem is not at a line
	Reason string
}

// Error formats e as "file:line: reason".
func (e *UnusableError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}
