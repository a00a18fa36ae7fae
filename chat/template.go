package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Specials are the special-token strings a template may refer to as
// bos_token, eos_token, unk_token and pad_token. An empty string leaves the
// variable undefined, as transformers does for an unset token.
type Specials struct {
	BOS, EOS, UNK, PAD string
}

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	// Name says where the template came from: a file path (with the key
	// or variant), "builtin:NAME" or the name given to Parse.
	Name string
	// Source is the Jinja source as written.
	Source string
	// Specials are the special tokens the template is rendered with.
	Specials Specials

	tmpl *jinja.Template
}

// Options control one rendering.
type Options struct {
	// AddGenerationPrompt appends the header of an assistant turn, so that
	// the model's next tokens are its answer.
	AddGenerationPrompt bool
	// Tools are the tool definitions (JSON schemas). Each element may be
	// json.RawMessage or []byte (decoded with key order kept), or any
	// value encoding/json can marshal (structs keep field order, maps get
	// sorted keys).
	Tools []any
	// Extra are further template variables, such as enable_thinking for
	// Qwen3 or documents; they override the variables hone sets, except
	// messages and add_generation_prompt.
	Extra map[string]any
	// Now is the clock behind strftime_now; nil means time.Now. Set it for
	// reproducible renders of templates that print the date.
	Now func() time.Time
}

// Parse compiles a Jinja chat template. name identifies it in errors.
//
// The source may come from an untrusted file: Parse refuses sources nested
// deeper than hone's limits, and every rendering is bounded in recursion
// depth, loop iterations, range() length and output size (see ErrLimit).
// Names starting with __hone_ are reserved for these guards.
func Parse(src, name string, special Specials) (tmpl *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tmpl, err = nil, fmt.Errorf("chat template %s: the Jinja engine failed: %v", name, r)
		}
	}()
	if k := strings.Index(src, guardPrefix); k >= 0 {
		return nil, fmt.Errorf("chat template %s: line %d: names starting with %s are reserved by hone", name, lineAt(src, k), guardPrefix)
	}
	guarded, err := guardSource(rewriteSource(src))
	if err != nil {
		return nil, fmt.Errorf("chat template %s: %w", name, err)
	}
	t, err := jinja.Compile(guarded)
	if err != nil {
		return nil, fmt.Errorf("chat template %s: %w", name, err)
	}
	return &Template{Name: name, Source: src, Specials: special, tmpl: t}, nil
}

// WithSpecials returns a copy of t rendered with other special tokens, for
// example a built-in template used with a model's own BOS and EOS.
func (t *Template) WithSpecials(s Specials) *Template {
	c := *t
	c.Specials = s
	return &c
}

// ErrNoTemplate is returned (wrapped) by Load when a tokenizer folder has
// no chat template; callers may fall back to a Named template.
var ErrNoTemplate = errors.New("no chat template")

// Load reads the chat template of a tokenizer folder: chat_template.jinja
// (transformers 5) when present, otherwise the chat_template key of
// tokenizer_config.json (a string, or a list of {name, template} of which
// "default" is used). The special tokens come from tokenizer_config.json.
func Load(dir string) (*Template, error) {
	return LoadVariant(dir, "")
}

// LoadVariant is Load for a named template variant ("tool_use", "rag", ...):
// the entry of that name in a chat_template list, or the file
// additional_chat_templates/NAME.jinja. An empty variant means the default.
func LoadVariant(dir, variant string) (*Template, error) {
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	var cfg map[string]json.RawMessage
	var sp Specials
	data, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		if cfg, sp, err = parseConfig(data, cfgPath); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}

	// transformers 5 files take precedence over the config key.
	file := filepath.Join(dir, "chat_template.jinja")
	if variant != "" {
		file = filepath.Join(dir, "additional_chat_templates", variant+".jinja")
	}
	if src, err := os.ReadFile(file); err == nil {
		return Parse(string(src), file, sp)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if variant == "" {
		// Processor-style chat_template.json: {"chat_template": "..."}.
		jf := filepath.Join(dir, "chat_template.json")
		if data, err := os.ReadFile(jf); err == nil {
			return parseTemplateJSON(data, jf, sp)
		}
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s: neither tokenizer_config.json nor chat_template.jinja found: %w", dir, ErrNoTemplate)
	}
	return configTemplate(cfg, cfgPath, variant, sp)
}

// parseConfig decodes the bytes of a tokenizer_config.json (path names it
// in errors) and reads its special tokens.
func parseConfig(data []byte, path string) (map[string]json.RawMessage, Specials, error) {
	var cfg map[string]json.RawMessage
	var sp Specials
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, sp, fmt.Errorf("%s: %w", path, jsonErr(data, err))
	}
	if cfg == nil {
		return nil, sp, fmt.Errorf("%s: want a JSON object, not null", path)
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"bos_token", &sp.BOS}, {"eos_token", &sp.EOS}, {"unk_token", &sp.UNK}, {"pad_token", &sp.PAD}} {
		if raw, ok := cfg[f.key]; ok {
			s, err := tokenString(raw)
			if err != nil {
				return nil, sp, fmt.Errorf("%s: key %q: %w", path, f.key, err)
			}
			*f.dst = s
		}
	}
	return cfg, sp, nil
}

// parseTemplateJSON compiles the template of a processor-style
// chat_template.json, {"chat_template": "..."}; path names it in errors.
func parseTemplateJSON(data []byte, path string, sp Specials) (*Template, error) {
	var obj struct {
		ChatTemplate *string `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, jsonErr(data, err))
	}
	if obj.ChatTemplate == nil {
		return nil, fmt.Errorf("%s: key \"chat_template\": missing", path)
	}
	return Parse(*obj.ChatTemplate, path, sp)
}

// configTemplate compiles the chat_template key of a decoded
// tokenizer_config.json (cfgPath names it in errors): a string, or a list
// of {name, template} from which variant ("" for "default") is taken.
func configTemplate(cfg map[string]json.RawMessage, cfgPath, variant string, sp Specials) (*Template, error) {
	raw, ok := cfg["chat_template"]
	if !ok || string(raw) == "null" {
		return nil, fmt.Errorf("%s: key \"chat_template\": %w", cfgPath, ErrNoTemplate)
	}
	want := variant
	if want == "" {
		want = "default"
	}
	var src string
	if err := json.Unmarshal(raw, &src); err == nil {
		if variant != "" {
			return nil, fmt.Errorf("%s: key \"chat_template\": a single template has no variant %q", cfgPath, variant)
		}
		return Parse(src, cfgPath+` (key "chat_template")`, sp)
	}
	var list []struct {
		Name     *string `json:"name"`
		Template *string `json:"template"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: key \"chat_template\": want a string or a list of {name, template}: %w", cfgPath, err)
	}
	var names []string
	for i, e := range list {
		if e.Name == nil || e.Template == nil {
			return nil, fmt.Errorf("%s: key \"chat_template\": entry %d: want both \"name\" and \"template\"", cfgPath, i)
		}
		if *e.Name == want {
			return Parse(*e.Template, fmt.Sprintf("%s (key \"chat_template\", %q)", cfgPath, want), sp)
		}
		names = append(names, *e.Name)
	}
	return nil, fmt.Errorf("%s: key \"chat_template\": no template named %q (have %s): %w",
		cfgPath, want, strings.Join(names, ", "), ErrNoTemplate)
}

// tokenString reads a special token given as a string, null, or an
// AddedToken dict {"content": ...}.
func tokenString(raw json.RawMessage) (string, error) {
	var s *string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == nil {
			return "", nil
		}
		return *s, nil
	}
	var tok struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.Content == nil {
		return "", errors.New(`want a string, null or {"content": ...}`)
	}
	return *tok.Content, nil
}

// RaiseError is the error of a template that called raise_exception, such
// as a template refusing a role order it does not support.
type RaiseError struct {
	// Template is the template's Name.
	Template string
	// Message is the text the template raised.
	Message string
}

// Error returns the message with the template's name.
func (e *RaiseError) Error() string {
	return fmt.Sprintf("chat template %s raised an exception: %s", e.Template, e.Message)
}

// RenderText renders the conversation and returns only the text, without
// locating message spans: what inference and serving need.
func (t *Template) RenderText(msgs []Message, opt Options) (string, error) {
	vals, err := messageValues(msgs)
	if err != nil {
		return "", err
	}
	data, err := t.data(opt)
	if err != nil {
		return "", err
	}
	return t.render(vals, opt.AddGenerationPrompt, data)
}

func messageValues(msgs []Message) ([]jinja.Value, error) {
	vals := make([]jinja.Value, len(msgs))
	for i := range msgs {
		if strings.Contains(msgs[i].Text(), tagSeparator) {
			return nil, fmt.Errorf("chat: message %d: content holds the byte sequence 00 1a 00, which hone reserves", i)
		}
		v, err := msgs[i].value()
		if err != nil {
			return nil, fmt.Errorf("chat: message %d: %w", i, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// data builds the template variables shared by every rendering with opt
// (all but messages and add_generation_prompt).
func (t *Template) data(opt Options) (map[string]jinja.Value, error) {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	name := t.Name
	d := map[string]jinja.Value{
		"raise_exception": jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			msg := "(no message)"
			if len(args) > 0 {
				msg = safeString(args[0])
				if args[0].IsString() {
					msg = args[0].AsString()
				}
			}
			return jinja.Undefined(), &RaiseError{Template: name, Message: msg}
		}),
		"strftime_now": jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return jinja.Undefined(), errors.New("strftime_now: want one format string")
			}
			return jinja.NewString(strftime(args[0].AsString(), now())), nil
		}),
		toJSONFilter: jinja.NewCallable(toJSONFilter, filterToJSON),
	}
	// Like transformers' special_tokens_map, unset tokens are left
	// undefined (so "{{ bos_token }}" prints nothing).
	for k, v := range map[string]string{"bos_token": t.Specials.BOS, "eos_token": t.Specials.EOS, "unk_token": t.Specials.UNK, "pad_token": t.Specials.PAD} {
		if v != "" {
			d[k] = jinja.NewString(v)
		}
	}
	if opt.Tools != nil {
		tools := make([]jinja.Value, len(opt.Tools))
		for i, tl := range opt.Tools {
			v, err := toValue(tl)
			if err != nil {
				return nil, fmt.Errorf("chat: tool %d: %w", i, err)
			}
			tools[i] = v
		}
		d["tools"] = jinja.NewList(tools)
	} else {
		d["tools"] = jinja.None()
	}
	for _, k := range sortedKeys(opt.Extra) {
		v, err := toValue(opt.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("chat: extra variable %q: %w", k, err)
		}
		d[k] = v
	}
	return d, nil
}

// render runs the template over message values with shared variables,
// within the limits of guard.go. A panic inside the engine (a bug there,
// reachable from a template file) is returned as an error naming the
// template.
func (t *Template) render(msgs []jinja.Value, agp bool, shared map[string]jinja.Value) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat template %s: the Jinja engine failed: %v", t.Name, r)
		}
	}()
	var g guard
	guards := g.values()
	d := make(map[string]jinja.Value, len(shared)+len(guards)+2)
	for k, v := range shared {
		d[k] = v
	}
	for k, v := range guards {
		d[k] = v
	}
	d["messages"] = jinja.NewList(msgs)
	d["add_generation_prompt"] = jinja.NewBool(agp)
	out, err = t.tmpl.RenderValues(d)
	if err == nil && len(out) > maxOutput {
		err = errOutput
	}
	if err != nil {
		var re *RaiseError
		if errors.As(err, &re) {
			return "", re
		}
		return "", fmt.Errorf("chat template %s: %w", t.Name, err)
	}
	return strings.ReplaceAll(out, tagSeparator, ""), nil
}

// knownEndOfTurn are end-of-turn and end-of-sequence markers of the chat
// formats in use (Llama 3, ChatML/Qwen, Phi-3, Gemma, GPT-OSS, DeepSeek,
// Llama 2/Mistral, Llama 4). A template's end-of-turn markers are those of
// this list that its source names, plus eos_token when it uses it.
var knownEndOfTurn = []string{
	"<|eot_id|>", "<|eom_id|>", "<|eot|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
	"<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "</s>",
}

// EndOfTurn returns the markers that end an assistant turn in this
// template: the known end-of-turn tokens its source writes literally, and
// eos_token when the source refers to it. Render's trained spans end with
// one of them.
func (t *Template) EndOfTurn() []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, m := range knownEndOfTurn {
		if strings.Contains(t.Source, m) {
			add(m)
		}
	}
	if t.Specials.EOS != "" && strings.Contains(t.Source, "eos_token") {
		add(t.Specials.EOS)
	}
	return out
}

// StopStrings returns the strings generation should stop at: EndOfTurn
// and the EOS token.
func (t *Template) StopStrings() []string {
	out := t.EndOfTurn()
	if t.Specials.EOS != "" {
		for _, s := range out {
			if s == t.Specials.EOS {
				return out
			}
		}
		out = append(out, t.Specials.EOS)
	}
	return out
}
