package chat

import (
	"strings"
)

// tagSeparator is the text rewriteSource puts between adjacent tags; render
// removes it from the output. Control bytes only, so that no filter
// (upper, trim, ...) changes it.
const tagSeparator = "\x00\x1a\x00"

// toJSONFilter is the name under which hone's Python-exact tojson filter is
// offered to templates; see rewriteSource.
const toJSONFilter = "hone_tojson"

// rewriteSource adapts a Hugging Face chat template to the Jinja engine:
//
//   - every use of the tojson filter ("x | tojson(...)") is renamed to
//     hone_tojson, a filter that reproduces Python's json.dumps exactly
//     (float repr, indent, sort_keys, ensure_ascii), because the engine's
//     built-in filters cannot be replaced;
//
//   - the {% generation %} / {% endgeneration %} markers of transformers'
//     AssistantTracker extension, which the engine does not know, become
//     {% if true %} / {% endif %} with the same whitespace control; hone
//     finds assistant spans on its own (see Render).
//
//   - between two tags with no text between them, a separator text
//     (tagSeparator) is inserted and later removed from the output:
//     the engine applies trim_blocks, lstrip_blocks and "-" markers to the
//     nearest text segment even across other tags, so that
//     "{% for %}{{ x }}\n" lost its newline and "a \n{{ x }}{%- if %}" its
//     "a \n" (Python's Jinja trims only directly adjacent text).
//
// Only code inside {{ }} and {% %} is touched: text, comments, string
// literals and {% raw %} blocks are left alone.
func rewriteSource(src string) string {
	var out strings.Builder
	out.Grow(len(src) + 64)
	i := 0
	lastTagEnd := -1
	for i < len(src) {
		open := strings.IndexByte(src[i:], '{')
		if open < 0 || i+open+1 >= len(src) {
			out.WriteString(src[i:])
			break
		}
		j := i + open
		if (src[j+1] == '#' || src[j+1] == '{' || src[j+1] == '%') && j == lastTagEnd {
			out.WriteString(tagSeparator)
		}
		switch src[j+1] {
		case '#':
			end := strings.Index(src[j+2:], "#}")
			if end < 0 {
				out.WriteString(src[i:])
				return out.String()
			}
			end += j + 4
			out.WriteString(src[i:end])
			i = end
			lastTagEnd = end
		case '{', '%':
			closer := "}}"
			if src[j+1] == '%' {
				closer = "%}"
			}
			out.WriteString(src[i : j+2])
			end, body := scanTag(src, j+2, closer)
			closed := end - (j + 2) - len(body) // len(closer), or 0 when unterminated
			if src[j+1] == '%' {
				if name := blockName(body); name == "raw" {
					// Copy everything up to and including {% endraw %} verbatim.
					out.WriteString(body)
					out.WriteString(src[end-len(closer) : end])
					k := findEndRaw(src, end)
					out.WriteString(src[end:k])
					i = k
					lastTagEnd = -1
					if k == end {
						lastTagEnd = k
					}
					continue
				}
				body = rewriteGeneration(body)
			}
			out.WriteString(rewriteFilters(body))
			out.WriteString(src[end-closed : end])
			i = end
			lastTagEnd = end
		default:
			out.WriteString(src[i : j+1])
			i = j + 1
		}
	}
	return out.String()
}

// scanTag returns the index just past the closing delimiter of a tag whose
// body starts at start, and the body; string literals may contain the
// closer. An unterminated tag runs to the end of src (the engine reports it).
func scanTag(src string, start int, closer string) (end int, body string) {
	k := start
	for k < len(src) {
		c := src[k]
		if c == '\'' || c == '"' {
			k = skipString(src, k)
			continue
		}
		if strings.HasPrefix(src[k:], closer) {
			return k + len(closer), src[start:k]
		}
		k++
	}
	return len(src), src[start:]
}

// skipString returns the index just past the string literal starting at k.
func skipString(src string, k int) int {
	q := src[k]
	k++
	for k < len(src) {
		switch src[k] {
		case '\\':
			k += 2
			continue
		case q:
			return k + 1
		}
		k++
	}
	return len(src)
}

// blockName returns the first identifier of a block tag's body ("for",
// "raw", "generation"), ignoring whitespace-control dashes.
func blockName(body string) string {
	s := strings.TrimLeft(body, "-+ \t\r\n")
	n := 0
	for n < len(s) && isIdent(s[n]) {
		n++
	}
	return s[:n]
}

func findEndRaw(src string, from int) int {
	k := from
	for {
		j := strings.Index(src[k:], "{%")
		if j < 0 {
			return len(src)
		}
		j += k
		end, body := scanTag(src, j+2, "%}")
		if blockName(body) == "endraw" {
			return j
		}
		k = end
	}
}

// rewriteGeneration turns a generation / endgeneration block body into an
// if true / endif body with the same whitespace-control marks.
func rewriteGeneration(body string) string {
	name := blockName(body)
	if name != "generation" && name != "endgeneration" {
		return body
	}
	k := strings.Index(body, name)
	repl := "if true"
	if name == "endgeneration" {
		repl = "endif"
	}
	return body[:k] + repl + body[k+len(name):]
}

// rewriteFilters renames the tojson filter in the code of one tag.
func rewriteFilters(body string) string {
	if !strings.Contains(body, "tojson") {
		return body
	}
	var out strings.Builder
	k := 0
	for k < len(body) {
		c := body[k]
		if c == '\'' || c == '"' {
			e := skipString(body, k)
			out.WriteString(body[k:e])
			k = e
			continue
		}
		if c == '|' && (k+1 >= len(body) || body[k+1] != '|') {
			out.WriteByte('|')
			k++
			ws := k
			for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
				k++
			}
			out.WriteString(body[ws:k])
			if strings.HasPrefix(body[k:], "tojson") && (k+6 >= len(body) || !isIdent(body[k+6])) {
				out.WriteString(toJSONFilter)
				k += 6
			}
			continue
		}
		out.WriteByte(c)
		k++
	}
	return out.String()
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
