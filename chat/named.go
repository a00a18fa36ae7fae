package chat

import (
	"fmt"
	"sort"
	"strings"
)

// builtin is a named template for datasets and base models that come
// without a chat template.
type builtin struct {
	src      string
	specials Specials
	doc      string
}

var builtins = map[string]builtin{
	"chatml": {
		doc: "ChatML (<|im_start|>role ... <|im_end|>), as used by Qwen",
		src: "{%- for message in messages %}" +
			"{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
			"{%- endfor %}" +
			"{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
		specials: Specials{EOS: "<|im_end|>"},
	},
	"llama3": {
		doc: "Llama 3 Instruct headers (<|start_header_id|>role<|end_header_id|> ... <|eot_id|>)",
		src: "{%- for message in messages %}" +
			"{%- set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}" +
			"{%- if loop.index0 == 0 and bos_token %}{%- set content = bos_token + content %}{%- endif %}" +
			"{{- content }}" +
			"{%- endfor %}" +
			"{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
		specials: Specials{BOS: "<|begin_of_text|>", EOS: "<|eot_id|>"},
	},
	"alpaca": {
		doc: "Stanford Alpaca's ### Instruction / ### Input / ### Response prompt; a system message replaces the preamble, a message of role \"input\" fills ### Input, the response ends with eos_token",
		src: "{%- set ns = namespace(has_input=false, system='') %}" +
			"{%- for message in messages %}" +
			"{%- if message['role'] == 'input' %}{%- set ns.has_input = true %}{%- endif %}" +
			"{%- if message['role'] == 'system' %}{%- set ns.system = message['content'] %}{%- endif %}" +
			"{%- endfor %}" +
			"{%- if ns.system %}{{- bos_token if bos_token else '' }}{%- elif ns.has_input %}" +
			"{{- (bos_token if bos_token else '') + 'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\\n\\n' }}" +
			"{%- else %}" +
			"{{- (bos_token if bos_token else '') + 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\\n\\n' }}" +
			"{%- endif %}" +
			"{%- for message in messages %}" +
			"{%- if message['role'] == 'system' %}{{- message['content'] + '\\n\\n' }}" +
			"{%- elif message['role'] == 'user' %}{{- '### Instruction:\\n' + message['content'] + '\\n\\n' }}" +
			"{%- elif message['role'] == 'input' %}{{- '### Input:\\n' + message['content'] + '\\n\\n' }}" +
			"{%- elif message['role'] == 'assistant' %}{{- '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}" +
			"{%- else %}{{- raise_exception('alpaca template: unsupported role ' + message['role']) }}" +
			"{%- endif %}" +
			"{%- endfor %}" +
			"{%- if add_generation_prompt %}{{- '### Response:\\n' }}{%- endif %}",
		specials: Specials{EOS: "</s>"},
	},
}

// Names returns the names of the built-in templates, sorted.
func Names() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Describe returns a one-line description of a built-in template, or "".
func Describe(name string) string { return builtins[name].doc }

// Named returns a built-in template: "chatml", "llama3" or "alpaca". Its
// special tokens are the format's usual ones (alpaca: EOS "</s>"); use
// WithSpecials to render with a model's own.
func Named(name string) (*Template, error) {
	b, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("chat: no built-in template %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return Parse(b.src, "builtin:"+name, b.specials)
}
