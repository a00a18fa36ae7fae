package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"hone/data"
	"hone/lora"
)

// Recipe is one training run, as a YAML file describes it. Every field has
// its default in Default; unknown keys are errors.
type Recipe struct {
	// Model is the base model: a Hugging Face folder or a Hub id.
	Model string `yaml:"model"`
	// Precision is fp32 or bf16.
	Precision string `yaml:"precision"`
	// Technique is full, lora or qlora.
	Technique string `yaml:"technique"`
	// Init, for technique full only, is "pretrained" (load Model's weights) or
	// "random" (pre-train from scratch with Model's config.json).
	Init  string     `yaml:"init"`
	LoRA  LoRA       `yaml:"lora"`
	Full  Full       `yaml:"full"`
	Data  Data       `yaml:"data"`
	Train TrainLoop  `yaml:"train"`
	Eval  Evaluation `yaml:"eval"`
	// Output is the run folder.
	Output string `yaml:"output"`

	// Dir is the folder of the recipe file; relative paths resolve from it.
	Dir string `yaml:"-"`
}

// LoRA holds the adapter settings.
type LoRA struct {
	R       int      `yaml:"r"`
	Alpha   float64  `yaml:"alpha"`
	Dropout float64  `yaml:"dropout"`
	Targets []string `yaml:"targets"`
	RSLoRA  bool     `yaml:"rslora"`
	Init    string   `yaml:"init"`
}

// Full holds the settings of full fine-tuning.
type Full struct {
	// Freeze lists glob patterns (path.Match over parameter names, e.g.
	// "model.embed_tokens.weight" or "model.layers.0.*") of parameters
	// that stay frozen.
	Freeze []string `yaml:"freeze"`
}

// Data says what to train on and how to render it.
type Data struct {
	// Train lists the training files (JSONL, JSON or CSV), or names one
	// folder written by hone data prepare (manifest.json, train.shard,
	// val.shard). A prepared folder must have been made with the model's
	// tokenizer and the chat template the run renders with (both checked
	// by hash) and rows that fit the model's context; it brings its own
	// validation split, mix, packing and masks, so data.validation and
	// data.mix stay empty and the other rendering settings are not used.
	Train []string `yaml:"train"`
	// Validation is a held-out file; when empty, ValFraction of Train is
	// split off (deterministically, duplicates kept on one side).
	Validation  string  `yaml:"validation"`
	ValFraction float64 `yaml:"val_fraction"`
	// Format overrides auto-detection (alpaca, prompt-completion, chat,
	// sharegpt, text).
	Format string `yaml:"format"`
	// Template is "auto" (the model's chat template, or the format's
	// default) or a named template (chatml, llama3, alpaca, ...).
	Template string `yaml:"template"`
	// TrainOnPrompt trains on every token instead of the answers only.
	TrainOnPrompt bool `yaml:"train_on_prompt"`
	// MaxSeqLen caps a sequence; longer examples are an error in the data
	// check and are skipped (reported) in training.
	MaxSeqLen int `yaml:"max_seq_len"`
	// Pack puts several short examples into one sequence, attention kept
	// within each.
	Pack bool `yaml:"pack"`
	// Mix blends in general text against catastrophic forgetting.
	Mix Mix `yaml:"mix"`
	// ExpectJSON marks the targets as JSON (checked by the data doctor and
	// the evaluation); Schema is a JSON Schema file they must satisfy.
	ExpectJSON bool   `yaml:"expect_json"`
	Schema     string `yaml:"schema"`
}

// Mix names a general-purpose dataset and its share of the training mix.
type Mix struct {
	File  string  `yaml:"file"`
	Ratio float64 `yaml:"ratio"`
}

// TrainLoop holds the optimisation hyper-parameters.
type TrainLoop struct {
	Epochs       float64 `yaml:"epochs"`
	MaxSteps     int     `yaml:"max_steps"`
	BatchSize    int     `yaml:"batch_size"`
	GradAccum    int     `yaml:"grad_accum"`
	LearningRate float64 `yaml:"learning_rate"`
	Scheduler    string  `yaml:"lr_scheduler"`
	WarmupSteps  int     `yaml:"warmup_steps"`
	WarmupRatio  float64 `yaml:"warmup_ratio"`
	WeightDecay  float64 `yaml:"weight_decay"`
	Beta1        float64 `yaml:"adam_beta1"`
	Beta2        float64 `yaml:"adam_beta2"`
	Eps          float64 `yaml:"adam_epsilon"`
	MaxGradNorm  float64 `yaml:"max_grad_norm"`
	Seed         uint64  `yaml:"seed"`
	Threads      int     `yaml:"threads"`
	// GradientCheckpointing recomputes each layer in backward.
	GradientCheckpointing bool `yaml:"gradient_checkpointing"`
	// EvalEvery evaluates on the validation split every N optimizer steps
	// (0: once per epoch).
	EvalEvery int `yaml:"eval_every"`
	// Patience stops early after this many evaluations without a new best
	// validation loss (0: never stop early).
	Patience int `yaml:"early_stopping_patience"`
	// SaveEvery writes a resumable checkpoint every N steps (0: only at
	// evaluations and the end).
	SaveEvery int `yaml:"save_every"`
}

// Evaluation configures the base-versus-tuned report at the end of a run.
type Evaluation struct {
	// Skip turns the final evaluation off (not recommended).
	Skip bool `yaml:"skip"`
	// Test is a held-out file of prompts and reference answers.
	Test string `yaml:"test"`
	// Metrics limits the report to these task metrics: exact_match,
	// json_valid, schema_valid, field_accuracy, rouge_l (default: every
	// metric that applies to the data).
	Metrics []string `yaml:"metrics"`
	// General is the forgetting probe's general text: the perplexity of
	// base and tuned on it, before and after, shows what fine-tuning cost
	// the model outside the task. A .jsonl, .json, .csv or .tsv file is a
	// dataset (text rows, or conversations rendered with the template);
	// any other file is plain UTF-8 text, one document per paragraph
	// (paragraphs are separated by blank lines). Each document is BOS +
	// text + EOS, cut into pieces of data.max_seq_len tokens.
	General string `yaml:"general"`
	// Samples is how many side-by-side generations the report shows.
	Samples int `yaml:"samples"`
	// MaxNewTokens bounds each generation.
	MaxNewTokens int `yaml:"max_new_tokens"`
	// Limit caps the number of test examples (0: all).
	Limit int `yaml:"limit"`
}

// Default returns a recipe with every default filled in: LoRA r16/α32 on
// every linear layer, AdamW at 2e-4 with cosine decay and 3% warmup, batch 4,
// gradient clipping at 1, validation every epoch with early stopping.
func Default() *Recipe {
	return &Recipe{
		Precision: "bf16",
		Technique: "lora",
		Init:      "pretrained",
		LoRA:      LoRA{R: 16, Alpha: 32, Targets: []string{"all-linear"}, Init: "kaiming"},
		Data:      Data{ValFraction: 0.1, Template: "auto", MaxSeqLen: 1024},
		Train: TrainLoop{Epochs: 3, BatchSize: 4, GradAccum: 1, LearningRate: 2e-4, Scheduler: "cosine",
			WarmupRatio: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, MaxGradNorm: 1, Seed: 42, Patience: 3},
		Eval:   Evaluation{Samples: 5, MaxNewTokens: 128},
		Output: "runs/run",
	}
}

// Load reads a recipe file over the defaults and applies the key=value
// overrides (dotted keys, YAML values: "train.learning_rate=1e-4"). Unknown
// keys are errors naming the key and line; Validate is called.
func Load(path string, overrides []string) (*Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data, path, overrides)
	if err != nil {
		return nil, err
	}
	r.Dir = filepath.Dir(path)
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Parse decodes recipe YAML over the defaults and applies overrides; name
// is used in errors. It does not validate.
func Parse(data []byte, name string, overrides []string) (*Recipe, error) {
	var tree map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &tree); err != nil {
			return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, true))
		}
	}
	r := Default()
	// strict decode of the file first, so that errors point at its lines
	if err := yaml.UnmarshalWithOptions(data, r, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, true))
	}
	if len(overrides) == 0 {
		return r, nil
	}
	if tree == nil {
		tree = map[string]any{}
	}
	for _, o := range overrides {
		key, val, ok := strings.Cut(o, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %q: want key=value", o)
		}
		var v any
		if err := yaml.Unmarshal([]byte(val), &v); err != nil {
			v = val
		}
		if err := setPath(tree, strings.Split(key, "."), v); err != nil {
			return nil, fmt.Errorf("--set %s: %w", key, err)
		}
	}
	merged, err := yaml.Marshal(tree)
	if err != nil {
		return nil, err
	}
	r = Default()
	if err := yaml.UnmarshalWithOptions(merged, r, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s with --set overrides: %s", name, yaml.FormatError(err, false, false))
	}
	return r, nil
}

func setPath(m map[string]any, path []string, v any) error {
	for i, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if m[k] != nil {
				return fmt.Errorf("%s is not a section", strings.Join(path[:i+1], "."))
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
	return nil
}

// Validate rejects impossible values before anything loads, naming the key.
// It checks that every input file exists.
func (r *Recipe) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if r.Model == "" {
		bad("model: missing; name a model folder or a Hugging Face Hub id")
	}
	switch r.Precision {
	case "fp32", "bf16":
	default:
		bad("precision: %q, want fp32 or bf16", r.Precision)
	}
	switch r.Technique {
	case "full", "lora", "qlora":
	default:
		bad("technique: %q, want full, lora or qlora", r.Technique)
	}
	switch r.Init {
	case "pretrained":
	case "random":
		if r.Technique != "full" {
			bad("init: random needs technique: full")
		}
	default:
		bad("init: %q, want pretrained or random", r.Init)
	}
	if r.Technique != "full" {
		if r.LoRA.R <= 0 {
			bad("lora.r: %d, want a positive rank", r.LoRA.R)
		}
		if !(r.LoRA.Alpha > 0) {
			bad("lora.alpha: %v, want a positive number", r.LoRA.Alpha)
		}
		if r.LoRA.Dropout < 0 || r.LoRA.Dropout >= 1 {
			bad("lora.dropout: %v, want 0 <= dropout < 1", r.LoRA.Dropout)
		}
		if len(r.LoRA.Targets) == 0 {
			bad("lora.targets: empty; name modules (%s) or all-linear", strings.Join(lora.Modules, ", "))
		}
		for i, t := range r.LoRA.Targets {
			if t != "all-linear" && !slices.Contains(lora.Modules, t) {
				bad("lora.targets[%d]: %q is not a linear layer; want all-linear or %s", i, t, strings.Join(lora.Modules, ", "))
			}
		}
		switch r.LoRA.Init {
		case "", "kaiming", "gaussian":
		default:
			bad("lora.init: %q, want kaiming or gaussian", r.LoRA.Init)
		}
	}
	for i, pat := range r.Full.Freeze {
		if _, err := path.Match(pat, ""); err != nil {
			bad("full.freeze[%d]: bad pattern %q: %v", i, pat, err)
		}
	}
	if len(r.Data.Train) == 0 {
		bad("data.train: missing; list at least one training file")
	}
	for i, f := range r.Data.Train {
		key := fmt.Sprintf("data.train[%d]", i)
		r.checkFile(key, f, &errs)
		st, err := os.Stat(r.Path(f))
		switch {
		case err != nil || !st.IsDir():
		case !data.IsPrepared(r.Path(f)):
			bad("%s: %s is a folder without %s: name a data file, or a folder written by hone data prepare", key, f, data.ManifestFile)
		case len(r.Data.Train) > 1:
			bad("%s: %s is a prepared folder: it must be the only training data", key, f)
		case r.Data.Validation != "" || r.Data.Mix.File != "":
			bad("%s: %s is a prepared folder, which holds its validation split and mix: leave data.validation and data.mix empty", key, f)
		}
	}
	r.checkFile("data.validation", r.Data.Validation, &errs)
	r.checkFile("data.mix.file", r.Data.Mix.File, &errs)
	r.checkFile("data.schema", r.Data.Schema, &errs)
	r.checkFile("eval.test", r.Eval.Test, &errs)
	r.checkFile("eval.general", r.Eval.General, &errs)
	if r.Data.ValFraction < 0 || r.Data.ValFraction >= 1 {
		bad("data.val_fraction: %v, want 0 <= fraction < 1", r.Data.ValFraction)
	}
	if r.Data.MaxSeqLen <= 1 {
		bad("data.max_seq_len: %d, want at least 2", r.Data.MaxSeqLen)
	}
	if r.Data.Mix.Ratio < 0 || r.Data.Mix.Ratio >= 1 {
		bad("data.mix.ratio: %v, want 0 <= ratio < 1", r.Data.Mix.Ratio)
	}
	if r.Data.Mix.Ratio > 0 && r.Data.Mix.File == "" {
		bad("data.mix.ratio is %v but data.mix.file is empty", r.Data.Mix.Ratio)
	}
	t := r.Train
	if !(t.LearningRate > 0) || math.IsInf(t.LearningRate, 0) {
		bad("train.learning_rate: %v, want a positive number", t.LearningRate)
	}
	switch t.Scheduler {
	case "constant", "linear", "cosine":
	default:
		bad("train.lr_scheduler: %q, want constant, linear or cosine", t.Scheduler)
	}
	if t.Epochs < 0 || t.MaxSteps < 0 || (t.Epochs == 0 && t.MaxSteps == 0) {
		bad("train.epochs %v / train.max_steps %d: want a positive number of epochs or steps", t.Epochs, t.MaxSteps)
	}
	if t.BatchSize <= 0 {
		bad("train.batch_size: %d, want a positive number", t.BatchSize)
	}
	if t.GradAccum <= 0 {
		bad("train.grad_accum: %d, want a positive number", t.GradAccum)
	}
	if t.WarmupSteps < 0 || t.WarmupRatio < 0 || t.WarmupRatio >= 1 {
		bad("train.warmup_steps %d / train.warmup_ratio %v: want non-negative, ratio below 1", t.WarmupSteps, t.WarmupRatio)
	}
	if t.WeightDecay < 0 {
		bad("train.weight_decay: %v, want 0 or more", t.WeightDecay)
	}
	if t.Beta1 < 0 || t.Beta1 >= 1 || t.Beta2 < 0 || t.Beta2 >= 1 || !(t.Eps > 0) {
		bad("train.adam_beta1/adam_beta2/adam_epsilon: want betas in [0, 1) and a positive epsilon")
	}
	if t.MaxGradNorm < 0 {
		bad("train.max_grad_norm: %v, want 0 (off) or more", t.MaxGradNorm)
	}
	if t.EvalEvery < 0 || t.Patience < 0 || t.SaveEvery < 0 || t.Threads < 0 {
		bad("train.eval_every, early_stopping_patience, save_every and threads must not be negative")
	}
	for i, m := range r.Eval.Metrics {
		switch m {
		case "exact_match", "json_valid", "schema_valid", "field_accuracy", "rouge_l":
		default:
			bad("eval.metrics[%d]: %q, want exact_match, json_valid, schema_valid, field_accuracy or rouge_l", i, m)
		}
	}
	if r.Eval.Samples < 0 || r.Eval.MaxNewTokens < 0 || r.Eval.Limit < 0 {
		bad("eval.samples, eval.max_new_tokens and eval.limit must not be negative")
	}
	if r.Output == "" {
		bad("output: missing")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Path resolves a path of the recipe relative to the recipe's folder.
func (r *Recipe) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || r.Dir == "" {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(r.Dir, p)
}

func (r *Recipe) checkFile(key, p string, errs *[]string) {
	if p == "" {
		return
	}
	if _, err := os.Stat(r.Path(p)); err != nil {
		*errs = append(*errs, fmt.Sprintf("%s: %s does not exist", key, p))
	}
}

// YAML returns the resolved recipe as YAML, for the run manifest and
// checkpoints.
func (r *Recipe) YAML() []byte {
	data, _ := yaml.Marshal(r)
	return data
}
