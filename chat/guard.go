package chat

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/ardanlabs/jinja"
)

// A chat template comes from a model's tokenizer_config.json, that is from
// untrusted bytes, and the Jinja engine (github.com/ardanlabs/jinja) has no
// limits of its own: a recursive macro ends in a fatal stack overflow and
// range(4000000000) runs the process out of memory, neither of which
// recover() can catch. The engine offers no hooks into its evaluator, so
// hone bounds a rendering from the outside:
//
//   - Parse checks the structure of the source (guardSource): block nesting,
//     the size of each tag's code, and macro default values (which the
//     engine evaluates before the macro body, so they may not call
//     anything). The engine's parser and evaluator recurse once per level
//     of nesting, so these bound the stack a template can use.
//
//   - guardSource inserts calls to hone's guard functions into the source,
//     as {{ ... }} tags without whitespace-control marks, which the engine's
//     trimming ignores, so the output is unchanged: every macro and call
//     block body starts with __hone_enter and ends with __hone_leave
//     (the depth of nested macro calls), every loop body starts with
//     __hone_tick (iterations), and every {{ expr }} becomes
//     {{ __hone_out(expr) }} (the bytes written). The literal text of a loop
//     or macro body is counted on each entry.
//
//   - render offers a range function that refuses more than maxRangeLen
//     items, and checks the size of the final text.
//
// Names starting with __hone_ are reserved: a template that mentions one is
// refused, so that it cannot replace a guard.
//
// What remains unbounded needs limits inside the engine: memory used by
// values that never reach the output, such as "x" * 10000000000 or a string
// doubled in a loop with {% set %}, and a list that contains itself (made
// with append or a namespace) given to ~, |string or == (printing it with
// {{ }} or tojson is an error).

// Limits on a template and on one rendering. Real chat templates stay far
// below them: they nest blocks a few levels deep, recurse (if at all) over
// the depth of a JSON schema, and loop over the messages and tools.
const (
	// maxCallDepth bounds the nesting of macro calls and call blocks.
	maxCallDepth = 256
	// maxOutput bounds the text one rendering writes, in bytes.
	maxOutput = 16 << 20
	// maxRangeLen bounds the length of a list made by range().
	maxRangeLen = 1 << 20
	// maxIndent bounds the indent of the tojson filter, in characters.
	maxIndent = 256
	// maxBlockDepth bounds the nesting of blocks (if, for, macro, ...).
	maxBlockDepth = 64
	// maxTagTokens bounds the tokens of the code in one tag (not counting
	// literals and separators, see countTokens).
	maxTagTokens = 1024
)

// maxSteps bounds the loop iterations and macro calls of one rendering (a
// variable so that tests can reach it quickly).
var maxSteps = 1 << 22

// ErrLimit is returned (wrapped, with the template's name and the limit) when
// a template exceeds one of hone's limits on templates and renderings: too
// deep a recursion, too many loop iterations, too long a range, too much
// output, or too deeply nested a source.
var ErrLimit = errors.New("over hone's limit for chat templates")

// guardPrefix starts the names of the guard functions.
const guardPrefix = "__hone_"

// segment kinds, as the engine scans them.
const (
	segText = iota
	segComment
	segExpr
	segStmt
)

// segment is one piece of a template source, split exactly as the engine's
// scanner splits it.
type segment struct {
	kind       int
	start, end int    // the bytes of the whole segment, delimiters included
	text       string // a tag's code, without delimiters and trim marks
	trimLeft   bool
	trimRight  bool
}

// scanSegments splits src into text, comments, expressions and statements
// the way the engine does (a port of its scan function), so that hone sees
// the same tags the engine will run.
func scanSegments(src string) ([]segment, error) {
	var segs []segment
	i, textStart := 0, 0
	for i < len(src) {
		if src[i] != '{' || i+1 >= len(src) {
			i++
			continue
		}
		var kind int
		var closer string
		switch src[i+1] {
		case '{':
			kind, closer = segExpr, "}}"
		case '%':
			kind, closer = segStmt, "%}"
		case '#':
			kind, closer = segComment, "#}"
		default:
			i++
			continue
		}
		if i > textStart {
			segs = append(segs, segment{kind: segText, start: textStart, end: i, text: src[textStart:i]})
		}
		start := i
		i += 2
		s := segment{kind: kind, start: start}
		if i < len(src) && src[i] == '-' {
			s.trimLeft = true
			i++
		}
		contentStart := i
		found := false
		for i < len(src) {
			c := src[i]
			if kind != segComment && (c == '\'' || c == '"') {
				i++
				for i < len(src) && src[i] != c {
					if src[i] == '\\' && i+1 < len(src) {
						i++
					}
					i++
				}
				if i < len(src) {
					i++
				}
				continue
			}
			if c == '-' && i+2 < len(src) && src[i+1] == closer[0] && src[i+2] == closer[1] {
				s.text, s.trimRight, s.end = src[contentStart:i], true, i+3
				i += 3
				found = true
				break
			}
			if i+1 < len(src) && c == closer[0] && src[i+1] == closer[1] {
				s.text, s.end = src[contentStart:i], i+2
				i += 2
				found = true
				break
			}
			i++
		}
		if !found {
			return nil, fmt.Errorf("line %d: unclosed tag", lineAt(src, start))
		}
		segs = append(segs, s)
		textStart = i
	}
	if textStart < len(src) {
		segs = append(segs, segment{kind: segText, start: textStart, end: len(src), text: src[textStart:]})
	}
	return segs, nil
}

// keyword returns a statement's keyword as the engine reads it.
func keyword(text string) string {
	text = strings.TrimSpace(text)
	for i, r := range text {
		if !unicode.IsLetter(r) && r != '_' {
			return text[:i]
		}
	}
	return text
}

func lineAt(src string, off int) int { return 1 + strings.Count(src[:off], "\n") }

// blockEnds maps the statements that open a block to those that close it.
var blockEnds = map[string]string{
	"if": "endif", "for": "endfor", "macro": "endmacro", "call": "endcall",
	"filter": "endfilter", "generation": "endgeneration", "set": "endset",
}

// guardSource checks the structure of a (rewritten) template source against
// hone's limits and inserts the calls of the rendering guards; see the
// comment at the top of this file.
func guardSource(src string) (string, error) {
	segs, err := scanSegments(src)
	if err != nil {
		return "", err
	}
	// Pass 1: block structure, the literal text inside each loop and
	// macro, and the checks.
	type open struct {
		seg  int
		end  string
		text int // bytes of literal text inside so far
	}
	var stack []open
	bodyText := make(map[int]int) // opening segment -> literal text in its body
	inRaw := false
	for i, s := range segs {
		if inRaw {
			if s.kind == segStmt && keyword(s.text) == "endraw" {
				inRaw = false
			} else {
				for k := range stack {
					stack[k].text += s.end - s.start
				}
			}
			continue
		}
		switch s.kind {
		case segText:
			for k := range stack {
				stack[k].text += len(s.text)
			}
		case segExpr, segStmt:
			if n := countTokens(s.text); n > maxTagTokens {
				return "", fmt.Errorf("line %d: a tag of %d tokens, more than %d: %w", lineAt(src, s.start), n, maxTagTokens, ErrLimit)
			}
		}
		if s.kind != segStmt {
			continue
		}
		kw := keyword(s.text)
		switch {
		case kw == "raw":
			inRaw = true
		case kw == "set" && strings.Contains(s.text, "="):
			// an assignment, not a block
		case blockEnds[kw] != "":
			if kw == "macro" {
				if err := checkMacroDefaults(s.text); err != nil {
					return "", fmt.Errorf("line %d: %w", lineAt(src, s.start), err)
				}
			}
			stack = append(stack, open{seg: i, end: blockEnds[kw]})
			if len(stack) > maxBlockDepth {
				return "", fmt.Errorf("line %d: blocks nested more than %d deep: %w", lineAt(src, s.start), maxBlockDepth, ErrLimit)
			}
		default:
			// Close the innermost block this statement ends; a
			// mismatched end is the engine's to report.
			for k := len(stack) - 1; k >= 0; k-- {
				if stack[k].end == kw {
					bodyText[stack[k].seg] = stack[k].text
					stack = stack[:k]
					break
				}
			}
		}
	}

	// Pass 2: write the source with the guard calls.
	var out strings.Builder
	out.Grow(len(src) + len(src)/4)
	inRaw = false
	for i, s := range segs {
		seg := src[s.start:s.end]
		if inRaw || s.kind == segText || s.kind == segComment {
			if inRaw && s.kind == segStmt && keyword(s.text) == "endraw" {
				inRaw = false
			}
			out.WriteString(seg)
			continue
		}
		if s.kind == segExpr {
			if strings.TrimSpace(s.text) == "" {
				out.WriteString(seg) // prints nothing
				continue
			}
			if !balanced(s.text) {
				return "", fmt.Errorf("line %d: unbalanced brackets in {{ %s }}", lineAt(src, s.start), strings.TrimSpace(s.text))
			}
			out.WriteString("{{")
			if s.trimLeft {
				out.WriteByte('-')
			}
			out.WriteString(guardPrefix + "out(" + s.text + ")")
			if s.trimRight {
				out.WriteByte('-')
			}
			out.WriteString("}}")
			continue
		}
		kw := keyword(s.text)
		switch kw {
		case "raw":
			inRaw = true
		case "endmacro", "endcall":
			out.WriteString("{{" + guardPrefix + "leave()}}")
		}
		out.WriteString(seg)
		switch kw {
		case "for":
			fmt.Fprintf(&out, "{{%stick(%d)}}", guardPrefix, bodyText[i])
		case "macro", "call":
			fmt.Fprintf(&out, "{{%senter(%d)}}", guardPrefix, bodyText[i])
		}
	}
	return out.String(), nil
}

// countTokens counts the names and operator characters of a tag's code,
// leaving out string and number literals, commas and colons (so that a long
// list literal counts little). Every node of the expression the engine
// builds, but a literal, has one of these tokens, so the count bounds the
// depth of the expression, and with it the engine's recursion.
func countTokens(code string) int {
	n := 0
	for k := 0; k < len(code); {
		c := code[k]
		switch {
		case c == '\'' || c == '"':
			k = skipString(code, k)
		case c >= '0' && c <= '9':
			for k < len(code) && (isIdent(code[k]) || code[k] == '.') {
				k++
			}
		case isIdent(c) || c >= 0x80:
			for k < len(code) && (isIdent(code[k]) || code[k] >= 0x80) {
				k++
			}
			n++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':':
			k++
		default:
			k++
			n++
		}
	}
	return n
}

// balanced reports whether the brackets of an expression, outside string
// literals, match in number and never close more than they opened, so
// that wrapping it in a call keeps it one argument (or fails to compile).
func balanced(code string) bool {
	depth := 0
	for k := 0; k < len(code); {
		switch c := code[k]; c {
		case '\'', '"':
			k = skipString(code, k)
			continue
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth < 0 {
				return false
			}
		}
		k++
	}
	return depth == 0
}

// checkMacroDefaults refuses macro parameters whose default value calls
// anything: the engine evaluates defaults before the macro body (where the
// depth guard sits), so f(x=f()) would recurse unguarded.
func checkMacroDefaults(text string) error {
	name, params, ok := strings.Cut(strings.TrimSpace(text), "(")
	if !ok {
		return nil // the engine reports it
	}
	if strings.ContainsAny(strings.TrimSuffix(params, ")"), "(|") {
		name = strings.TrimSpace(strings.TrimPrefix(name, "macro"))
		return fmt.Errorf("macro %s: a parameter's default value may not call a function or apply a filter (hone refuses it: the engine would evaluate it unguarded)", name)
	}
	return nil
}

// errOutput is the error of a rendering that writes too much.
var errOutput = fmt.Errorf("output larger than %d MiB: %w", maxOutput>>20, ErrLimit)

// guard is the state of one rendering's limits.
type guard struct {
	depth int   // macro calls and call blocks being run
	steps int   // loop iterations and macro calls so far
	out   int64 // bytes written so far (an estimate, see add)
}

// add counts n more bytes of output.
func (g *guard) add(n int64) error {
	g.out += n
	if g.out > maxOutput {
		return errOutput
	}
	return nil
}

func (g *guard) step() error {
	g.steps++
	if g.steps > maxSteps {
		return fmt.Errorf("more than %d loop iterations and macro calls: %w", maxSteps, ErrLimit)
	}
	return nil
}

// intArg reads a guard call's integer argument.
func intArg(args []jinja.Value) int64 {
	if len(args) == 1 && args[0].IsInt() {
		return args[0].AsInt()
	}
	return 0
}

var emptyString = jinja.NewString("")

// values returns the guard functions and range for one rendering.
func (g *guard) values() map[string]jinja.Value {
	return map[string]jinja.Value{
		guardPrefix + "enter": jinja.NewCallable(guardPrefix+"enter", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			g.depth++
			if g.depth > maxCallDepth {
				return jinja.Undefined(), fmt.Errorf("macro calls nested more than %d deep (runaway recursion?): %w", maxCallDepth, ErrLimit)
			}
			if err := g.step(); err != nil {
				return jinja.Undefined(), err
			}
			return emptyString, g.add(intArg(args))
		}),
		guardPrefix + "leave": jinja.NewCallable(guardPrefix+"leave", func([]jinja.Value, map[string]jinja.Value) (jinja.Value, error) {
			g.depth--
			return emptyString, nil
		}),
		guardPrefix + "tick": jinja.NewCallable(guardPrefix+"tick", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if err := g.step(); err != nil {
				return jinja.Undefined(), err
			}
			return emptyString, g.add(intArg(args))
		}),
		guardPrefix + "out": jinja.NewCallable(guardPrefix+"out", func(args []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || len(kw) != 0 {
				return jinja.Undefined(), errors.New("an output tag holds more than one expression")
			}
			n, err := printedSize(args[0], maxOutput-g.out)
			if err != nil {
				return jinja.Undefined(), err
			}
			if err := g.add(n); err != nil {
				return jinja.Undefined(), err
			}
			return args[0], nil
		}),
		"range": jinja.NewCallable("range", builtinRange),
	}
}

// printedSize estimates the bytes the engine writes for v, stopping once
// it exceeds limit. A list or dict that contains itself, which the engine
// would print forever, is an error.
func printedSize(v jinja.Value, limit int64) (int64, error) {
	var onPath []any
	var size func(v jinja.Value, quoted bool) (int64, error)
	size = func(v jinja.Value, quoted bool) (int64, error) {
		switch {
		case v.IsString():
			if quoted {
				return int64(len(v.AsString())) + 2, nil
			}
			return int64(len(v.AsString())), nil
		case v.IsList(), v.IsDict():
			var id any
			if v.IsList() {
				id = v.AsList()
			} else {
				id = v.AsDict()
			}
			for _, p := range onPath {
				if p == id {
					return 0, fmt.Errorf("a list or dict that contains itself cannot be printed")
				}
			}
			onPath = append(onPath, id)
			defer func() { onPath = onPath[:len(onPath)-1] }()
			total := int64(2)
			visit := func(key string, x jinja.Value) error {
				n, err := size(x, true)
				total += n + int64(len(key)) + 4
				if err == nil && total > limit {
					err = errOutput
				}
				return err
			}
			if v.IsList() {
				for _, x := range v.AsList().Items {
					if err := visit("", x); err != nil {
						return 0, err
					}
				}
			} else {
				d := v.AsDict()
				for _, k := range d.Keys {
					if err := visit(k, d.Data[k]); err != nil {
						return 0, err
					}
				}
			}
			return total, nil
		default:
			return 8, nil // numbers, booleans, None, callables: short
		}
	}
	return size(v, false)
}

// safeString is v.String() for messages: a list or dict that contains
// itself or is too long to quote is described instead of printed.
func safeString(v jinja.Value) string {
	if _, err := printedSize(v, 1<<12); err != nil {
		return "(a list or dict too long to print)"
	}
	return v.String()
}

// builtinRange is the engine's range (same arguments and conversions) with
// the length checked before the list is made.
func builtinRange(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	var start, stop, step int64 = 0, 0, 1
	switch len(args) {
	case 1:
		stop = toInt64(args[0])
	case 2:
		start, stop = toInt64(args[0]), toInt64(args[1])
	case 3:
		start, stop, step = toInt64(args[0]), toInt64(args[1]), toInt64(args[2])
	default:
		return jinja.Undefined(), fmt.Errorf("range: expected 1-3 arguments, got %d", len(args))
	}
	if step == 0 {
		return jinja.Undefined(), errors.New("range: step must not be zero")
	}
	var n uint64
	switch {
	case step > 0 && start < stop:
		n = (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	case step < 0 && start > stop:
		n = (uint64(start)-uint64(stop)-1)/(uint64(-(step+1))+1) + 1
	}
	if n > maxRangeLen {
		return jinja.Undefined(), fmt.Errorf("range(%d, %d, %d) has %d items, more than %d: %w", start, stop, step, n, maxRangeLen, ErrLimit)
	}
	items := make([]jinja.Value, n)
	for i := range items {
		items[i] = jinja.NewInt(start + int64(i)*step)
	}
	return jinja.NewList(items), nil
}

// toInt64 converts a range argument as the engine does.
func toInt64(v jinja.Value) int64 {
	switch {
	case v.IsInt():
		return v.AsInt()
	case v.IsFloat():
		return int64(v.AsFloat())
	case v.IsBool():
		if v.AsBool() {
			return 1
		}
		return 0
	case v.IsString():
		var n int64
		fmt.Sscanf(v.AsString(), "%d", &n)
		return n
	}
	return 0
}
