package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema that targets must satisfy.
type Schema struct {
	Path string
	s    *jsonschema.Schema
}

// LoadSchema reads and compiles a JSON Schema file.
func LoadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return CompileSchema(b, path)
}

// CompileSchema compiles a JSON Schema document; name appears in errors.
func CompileSchema(doc []byte, name string) (*Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	url := "file:///" + strings.TrimPrefix(name, "/")
	if err := c.AddResource(url, v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid JSON Schema: %w", name, err)
	}
	return &Schema{Path: name, s: s}, nil
}

// checkJSON reports why text is not one JSON value (kind KindInvalidJSON),
// or does not satisfy the schema (KindSchemaViolation); "" when it is fine.
func checkJSON(text string, schema *Schema) (Kind, string) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var probe json.RawMessage
	if err := dec.Decode(&probe); err != nil {
		return KindInvalidJSON, "the target is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	if strings.TrimSpace(text[dec.InputOffset():]) != "" {
		return KindInvalidJSON, "the target has text after its JSON value"
	}
	if schema == nil {
		return "", ""
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(probe))
	if err != nil {
		return KindInvalidJSON, "the target is not valid JSON: " + err.Error()
	}
	if err := schema.s.Validate(v); err != nil {
		return KindSchemaViolation, "the target does not satisfy " + schema.Path + ": " + schemaMessage(err)
	}
	return "", ""
}

var printer = message.NewPrinter(language.English)

// schemaMessage flattens a validation error into one line: the deepest
// causes, each with its location.
func schemaMessage(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var leaves []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			leaves = append(leaves, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(printer)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(leaves) > 3 {
		leaves = append(leaves[:3], fmt.Sprintf("and %d more", len(leaves)-3))
	}
	return strings.Join(leaves, "; ")
}
