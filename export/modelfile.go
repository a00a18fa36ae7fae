package export

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"hone/chat"
)

// Sentinels stand for message contents while a template is probed; they
// contain nothing a template would trim or escape.
const (
	sentSystem = "QSYSTEMQ"
	sentUser1  = "QUSERONEQ"
	sentUser2  = "QUSERTWOQ"
	sentAsst   = "QASSISTANTQ"
)

// roleParts are the fixed texts a template writes around one role's
// message content.
type roleParts struct{ pre, post string }

// OllamaTemplate translates a Jinja chat template into an Ollama TEMPLATE
// (Go text/template over .Messages). The template is rendered on probe
// conversations whose contents are sentinels; the text around each
// sentinel gives, per role, what the template writes before and after a
// message, plus a preamble before the first message and the generation
// prompt. The translation is then checked: for several conversations
// (with and without a system message, one or several turns) the Go
// template must produce exactly what the Jinja template renders, minus the
// leading BOS text when stripBOS is set (llama.cpp and Ollama add BOS as a
// token themselves). Templates that are not a fixed wrapping per role
// (Llama 2's system folded into the first user turn, tool calls, dates)
// fail that check and give an error rather than a wrong template.
func OllamaTemplate(t *chat.Template, stripBOS bool) (string, error) {
	now := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	render := func(agp bool, msgs ...chat.Message) (string, error) {
		s, err := t.RenderText(msgs, chat.Options{AddGenerationPrompt: agp, Now: now})
		if err != nil {
			return "", err
		}
		if stripBOS && t.Specials.BOS != "" {
			s = strings.TrimPrefix(s, t.Specials.BOS)
		}
		return s, nil
	}
	sys := chat.Message{Role: "system", Content: sentSystem}
	u1 := chat.Message{Role: "user", Content: sentUser1}
	u2 := chat.Message{Role: "user", Content: sentUser2}
	a1 := chat.Message{Role: "assistant", Content: sentAsst}

	// [u1]: preamble + user.pre | u1 | user.post
	r1, err := render(false, u1)
	if err != nil {
		return "", fmt.Errorf("chat template %s: %w", t.Name, err)
	}
	before, userPost, ok := cut2(r1, sentUser1)
	if !ok {
		return "", fmt.Errorf("chat template %s cannot be translated for Ollama: the user message does not appear in the rendering", t.Name)
	}
	// [u1, a1]: ... | a1 | asst.post ; between u1 and a1: user.post + asst.pre
	r2, err := render(false, u1, a1)
	if err != nil {
		return "", fmt.Errorf("chat template %s: %w", t.Name, err)
	}
	mid, asstPost, ok := between(r2, sentUser1, sentAsst)
	if !ok || !strings.HasPrefix(mid, userPost) {
		return "", fmt.Errorf("chat template %s cannot be translated for Ollama: a user turn is not a fixed wrapping of its content", t.Name)
	}
	asstPre := mid[len(userPost):]
	// [u1, a1, u2]: between a1 and u2: asst.post + user.pre
	r3, err := render(true, u1, a1, u2)
	if err != nil {
		return "", fmt.Errorf("chat template %s: %w", t.Name, err)
	}
	mid2, tail, ok := between(r3, sentAsst, sentUser2)
	if !ok || !strings.HasPrefix(mid2, asstPost) || !strings.HasPrefix(tail, userPost) {
		return "", fmt.Errorf("chat template %s cannot be translated for Ollama: turns are not fixed wrappings of their contents", t.Name)
	}
	userPre := mid2[len(asstPost):]
	genPrompt := tail[len(userPost):]
	if !strings.HasSuffix(before, userPre) {
		return "", fmt.Errorf("chat template %s cannot be translated for Ollama: the first user turn is written differently from later ones", t.Name)
	}
	preamble := before[:len(before)-len(userPre)]
	// [sys, u1]: preamble + sys.pre | sys | sys.post + user.pre
	parts := map[string]roleParts{"user": {userPre, userPost}, "assistant": {asstPre, asstPost}}
	if r4, err := render(false, sys, u1); err == nil && strings.Contains(r4, sentSystem) {
		b, m, _, ok := around(r4, sentSystem, sentUser1)
		if ok && strings.HasPrefix(b, preamble) && strings.HasSuffix(m, userPre) {
			parts["system"] = roleParts{b[len(preamble):], m[:len(m)-len(userPre)]}
		}
	}

	var src strings.Builder
	src.WriteString(goLiteral(preamble))
	src.WriteString("{{- range $i, $m := .Messages }}")
	first := true
	for _, role := range []string{"system", "user", "assistant"} {
		p, ok := parts[role]
		if !ok {
			continue
		}
		kw := "else if"
		if first {
			kw, first = "if", false
		}
		fmt.Fprintf(&src, "{{- %s eq $m.Role %q }}%s{{ $m.Content }}%s", kw, role, goLiteral(p.pre), goLiteral(p.post))
	}
	src.WriteString("{{- end }}{{- end }}")
	src.WriteString(goLiteral(genPrompt))
	out := src.String()

	// verify on conversations the probes did not use as such
	tests := [][]chat.Message{
		{u1}, {u1, a1, u2}, {u1, a1, u2, a1, u1},
	}
	if _, ok := parts["system"]; ok {
		tests = append(tests, []chat.Message{sys, u1}, []chat.Message{sys, u1, a1, u2})
	}
	tmpl, err := template.New("ollama").Parse(out)
	if err != nil {
		return "", fmt.Errorf("chat template %s: translated template does not parse: %w", t.Name, err)
	}
	for _, msgs := range tests {
		want, err := render(true, msgs...)
		if err != nil {
			return "", fmt.Errorf("chat template %s: %w", t.Name, err)
		}
		got, err := ExecOllama(tmpl, msgs)
		if err != nil {
			return "", err
		}
		if got != want {
			return "", fmt.Errorf("chat template %s cannot be translated for Ollama: for %d messages it renders %q, the translation %q", t.Name, len(msgs), abbrev(want), abbrev(got))
		}
	}
	return out, nil
}

// ExecOllama executes an Ollama-style template on messages as Ollama
// passes them (.Messages with .Role and .Content).
func ExecOllama(t *template.Template, msgs []chat.Message) (string, error) {
	type msg struct{ Role, Content string }
	data := struct{ Messages []msg }{}
	for _, m := range msgs {
		data.Messages = append(data.Messages, msg{m.Role, m.Content})
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// goLiteral writes s as text/template source that outputs s: plain text
// when it holds no delimiters and no whitespace at either end (which a
// neighbouring "{{-" or "-}}" would trim), else a quoted string action.
func goLiteral(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "{{") && !strings.Contains(s, "}}") && strings.TrimSpace(s) == s {
		return s
	}
	return "{{ " + strconv.Quote(s) + " }}"
}

// cut2 splits s around the only occurrence of sep.
func cut2(s, sep string) (string, string, bool) {
	if strings.Count(s, sep) != 1 {
		return "", "", false
	}
	a, b, _ := strings.Cut(s, sep)
	return a, b, true
}

// around splits s at the only occurrences of a and then b: the text
// before a, between them, and after b.
func around(s, a, b string) (head, mid, tail string, ok bool) {
	if strings.Count(s, a) != 1 || strings.Count(s, b) != 1 {
		return "", "", "", false
	}
	i, j := strings.Index(s, a), strings.Index(s, b)
	if j < i+len(a) {
		return "", "", "", false
	}
	return s[:i], s[i+len(a) : j], s[j+len(b):], true
}

// between is around without the head.
func between(s, a, b string) (mid, tail string, ok bool) {
	_, mid, tail, ok = around(s, a, b)
	return mid, tail, ok
}

// ModelfileOptions describe an Ollama Modelfile.
type ModelfileOptions struct {
	// From is the model file, relative to the Modelfile ("./model.gguf").
	From string
	// Adapter is a GGUF LoRA adapter file, or empty.
	Adapter string
	// Template is the chat template to translate, or nil (raw prompts).
	Template *chat.Template
	// StripBOS drops the template's leading BOS text (set when the
	// vocabulary adds BOS itself).
	StripBOS bool
	// Stops are extra stop strings besides the template's end-of-turn
	// markers and EOS.
	Stops []string
}

// Modelfile returns an Ollama Modelfile: FROM, ADAPTER, TEMPLATE
// translated by OllamaTemplate, and a PARAMETER stop line for every
// end-of-turn marker and EOS of the template (and each extra stop).
func Modelfile(opt ModelfileOptions) (string, error) {
	if opt.From == "" {
		return "", errors.New("Modelfile: no FROM file")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FROM %s\n", opt.From)
	if opt.Adapter != "" {
		fmt.Fprintf(&b, "ADAPTER %s\n", opt.Adapter)
	}
	var stops []string
	if opt.Template != nil {
		tmpl, err := OllamaTemplate(opt.Template, opt.StripBOS)
		if err != nil {
			return "", err
		}
		if strings.Contains(tmpl, `"""`) {
			return "", fmt.Errorf("Modelfile: the template contains \"\"\", which a Modelfile cannot quote")
		}
		fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl)
		stops = opt.Template.StopStrings()
	}
	stops = append(stops, opt.Stops...)
	seen := map[string]bool{}
	for _, s := range stops {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		fmt.Fprintf(&b, "PARAMETER stop %s\n", strconv.Quote(s))
	}
	return b.String(), nil
}
