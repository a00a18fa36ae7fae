package plan

import "hone/model"

// Family is an architecture hone runs, with well-known Hub ids of it.
type Family struct {
	// ModelType is config.json's model_type.
	ModelType string
	// Architecture is config.json's architectures[0].
	Architecture string
	// Notes says what distinguishes the family in hone.
	Notes string
	// Models are well-known repositories of the family.
	Models []HubModel
}

// HubModel is one repository on the Hugging Face Hub.
type HubModel struct {
	// ID is the repository id, for hone pull and --model.
	ID string
	// Params is the approximate parameter count, e.g. "1.2B".
	Params string
	// Gated says the repository requires accepting a license (HF_TOKEN).
	Gated bool
}

// Families lists the architectures hone supports (model.SupportedTypes),
// smallest models first within each.
var Families = []Family{
	{"llama", "LlamaForCausalLM", "Llama 1-3.x: grouped-query attention, RoPE with llama3 scaling, tied or untied head", []HubModel{
		{"HuggingFaceTB/SmolLM2-135M-Instruct", "135M", false},
		{"HuggingFaceTB/SmolLM2-1.7B-Instruct", "1.7B", false},
		{"TinyLlama/TinyLlama-1.1B-Chat-v1.0", "1.1B", false},
		{"meta-llama/Llama-3.2-1B-Instruct", "1.2B", true},
		{"meta-llama/Llama-3.2-3B-Instruct", "3.2B", true},
		{"meta-llama/Llama-3.1-8B-Instruct", "8.0B", true},
	}},
	{"mistral", "MistralForCausalLM", "Mistral: Llama's layout with a sliding attention window (v0.1)", []HubModel{
		{"mistralai/Mistral-7B-Instruct-v0.3", "7.2B", true},
		{"mistralai/Mistral-7B-v0.1", "7.2B", false},
	}},
	{"qwen2", "Qwen2ForCausalLM", "Qwen2 and Qwen2.5: biases on q, k and v", []HubModel{
		{"Qwen/Qwen2.5-0.5B-Instruct", "0.5B", false},
		{"Qwen/Qwen2.5-1.5B-Instruct", "1.5B", false},
		{"Qwen/Qwen2.5-7B-Instruct", "7.6B", false},
	}},
	{"qwen3", "Qwen3ForCausalLM", "Qwen3: per-head RMSNorm on q and k", []HubModel{
		{"Qwen/Qwen3-0.6B", "0.6B", false},
		{"Qwen/Qwen3-1.7B", "1.7B", false},
		{"Qwen/Qwen3-8B", "8.2B", false},
	}},
}

// supported reports whether every family is a model_type hone loads; a
// test keeps Families in step with model.SupportedTypes.
func supported(f Family) bool {
	for _, t := range model.SupportedTypes {
		if t == f.ModelType {
			return true
		}
	}
	return false
}
