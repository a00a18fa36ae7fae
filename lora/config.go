package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Modules are the short names of the linear layers LoRA can target, as PEFT
// and transformers name them.
var Modules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// Config describes the adapters of a model.
type Config struct {
	// R is the rank.
	R int
	// Alpha scales the update: scale = Alpha/R, or Alpha/√R with RSLoRA.
	Alpha float64
	// Dropout is the probability of zeroing an input element of the adapter
	// branch during training.
	Dropout float64
	// Targets are the module short names (q_proj, ..., down_proj) or
	// "all-linear" for every projection of the decoder layers.
	Targets []string
	// RSLoRA uses the rank-stabilised scale Alpha/√R.
	RSLoRA bool
	// Init is "kaiming" (PEFT's default: A uniform in ±1/√in, B zero) or
	// "gaussian" (A normal with standard deviation 1/R, B zero).
	Init string
	// RankPattern and AlphaPattern override R and Alpha for the modules whose
	// names match a key, as PEFT's rank_pattern and alpha_pattern do.
	RankPattern  map[string]int
	AlphaPattern map[string]float64
	// BaseModel is recorded as base_model_name_or_path when saving.
	BaseModel string
}

// Default returns the settings hone uses when a recipe says only "lora":
// rank 16, alpha 32, no dropout, every linear layer.
func Default() Config {
	return Config{R: 16, Alpha: 32, Targets: []string{"all-linear"}, Init: "kaiming"}
}

// Validate reports the first impossible value, naming its key.
func (c *Config) Validate() error {
	if c.R <= 0 {
		return fmt.Errorf("lora r: %d, want a positive rank", c.R)
	}
	if c.Alpha <= 0 || math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return fmt.Errorf("lora alpha: %v, want a positive number", c.Alpha)
	}
	if c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(c.Dropout) {
		return fmt.Errorf("lora dropout: %v, want 0 <= dropout < 1", c.Dropout)
	}
	if len(c.Targets) == 0 {
		return fmt.Errorf("lora targets: empty; name modules (%s) or all-linear", strings.Join(Modules, ", "))
	}
	for _, t := range c.Targets {
		if t == "all-linear" {
			continue
		}
		if !contains(Modules, t) {
			return fmt.Errorf("lora targets: %q is not a linear module (%s, or all-linear)", t, strings.Join(Modules, ", "))
		}
	}
	switch c.Init {
	case "", "kaiming", "gaussian":
	default:
		return fmt.Errorf("lora init: %q, want kaiming or gaussian", c.Init)
	}
	for _, k := range sortedKeys(c.RankPattern) {
		if r := c.RankPattern[k]; r <= 0 {
			return fmt.Errorf("lora rank_pattern[%q]: %d, want a positive rank", k, r)
		}
		if _, err := patternRegexp(k); err != nil {
			return fmt.Errorf("lora rank_pattern[%q]: the key is not a regular expression hone can match: %v", k, err)
		}
	}
	for _, k := range sortedKeys(c.AlphaPattern) {
		if a := c.AlphaPattern[k]; a <= 0 || math.IsNaN(a) || math.IsInf(a, 0) {
			return fmt.Errorf("lora alpha_pattern[%q]: %v, want a positive number", k, a)
		}
		if _, err := patternRegexp(k); err != nil {
			return fmt.Errorf("lora alpha_pattern[%q]: the key is not a regular expression hone can match: %v", k, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Targeted reports whether the module (full name, e.g.
// "model.layers.3.mlp.up_proj") is targeted.
func (c *Config) Targeted(module string) bool {
	short := module[strings.LastIndex(module, ".")+1:]
	for _, t := range c.Targets {
		if t == "all-linear" || t == short {
			return true
		}
	}
	return false
}

// patternMatch is PEFT's rule for rank_pattern/alpha_pattern keys: the key
// matches the module name or a dotted suffix of it.
func patternMatch(key, module string) bool {
	re, err := patternRegexp(key)
	if err != nil {
		return false
	}
	return re.MatchString(module)
}

// patternRegexp compiles a rank_pattern/alpha_pattern key as patternMatch
// uses it.
func patternRegexp(key string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(.*\.)?(` + key + `)$`)
}

// RankAlpha returns the rank and alpha of one module, after the patterns.
func (c *Config) RankAlpha(module string) (int, float64) {
	r, a := c.R, c.Alpha
	for _, k := range sortedKeys(c.RankPattern) {
		if patternMatch(k, module) {
			r = c.RankPattern[k]
			break
		}
	}
	for _, k := range sortedKeys(c.AlphaPattern) {
		if patternMatch(k, module) {
			a = c.AlphaPattern[k]
			break
		}
	}
	return r, a
}

// Scale returns the multiplier of the low-rank update for rank r and alpha.
func (c *Config) Scale(r int, alpha float64) float64 {
	if c.RSLoRA {
		return alpha / math.Sqrt(float64(r))
	}
	return alpha / float64(r)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// peftConfig is adapter_config.json as PEFT writes it (the fields hone
// reads or must write for PEFT to load the adapter).
type peftConfig struct {
	AlphaPattern      map[string]float64 `json:"alpha_pattern"`
	BaseModel         *string            `json:"base_model_name_or_path"`
	Bias              string             `json:"bias"`
	FanInFanOut       bool               `json:"fan_in_fan_out"`
	InferenceMode     bool               `json:"inference_mode"`
	InitLoraWeights   any                `json:"init_lora_weights"`
	LayersToTransform any                `json:"layers_to_transform"`
	LayersPattern     any                `json:"layers_pattern"`
	LoraAlpha         float64            `json:"lora_alpha"`
	LoraDropout       float64            `json:"lora_dropout"`
	ModulesToSave     []string           `json:"modules_to_save"`
	PeftType          string             `json:"peft_type"`
	R                 int                `json:"r"`
	RankPattern       map[string]int     `json:"rank_pattern"`
	Revision          *string            `json:"revision"`
	TargetModules     any                `json:"target_modules"`
	TaskType          *string            `json:"task_type"`
	UseDora           bool               `json:"use_dora"`
	UseRSLoRA         bool               `json:"use_rslora"`
	LoraBias          bool               `json:"lora_bias"`
}

// ReadConfig reads a PEFT adapter_config.json.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(data, path)
}

// parseConfig interprets the bytes of the adapter_config.json at path.
func parseConfig(data []byte, path string) (*Config, error) {
	var p peftConfig
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(format string, args ...any) (*Config, error) {
		return nil, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	if p.PeftType != "" && p.PeftType != "LORA" {
		return fail("peft_type %q is not LORA", p.PeftType)
	}
	if p.UseDora {
		return fail("use_dora: DoRA adapters are not supported")
	}
	if p.FanInFanOut {
		return fail("fan_in_fan_out: true is for GPT-2-style Conv1D layers, which Llama-family models do not have")
	}
	if p.Bias != "" && p.Bias != "none" {
		return fail("bias %q: only bias \"none\" is supported", p.Bias)
	}
	if p.LoraBias {
		return fail("lora_bias: adapters with a bias on lora_B are not supported")
	}
	if len(p.ModulesToSave) > 0 {
		return fail("modules_to_save %v: fully trained extra modules are not supported", p.ModulesToSave)
	}
	if p.LayersToTransform != nil {
		return fail("layers_to_transform is not supported")
	}
	c := &Config{R: p.R, Alpha: p.LoraAlpha, Dropout: p.LoraDropout, RSLoRA: p.UseRSLoRA,
		RankPattern: p.RankPattern, AlphaPattern: p.AlphaPattern, Init: "kaiming"}
	if p.BaseModel != nil {
		c.BaseModel = *p.BaseModel
	}
	if s, ok := p.InitLoraWeights.(string); ok && s == "gaussian" {
		c.Init = "gaussian"
	}
	switch t := p.TargetModules.(type) {
	case string:
		if t == "all-linear" {
			c.Targets = []string{"all-linear"}
		} else {
			// a regular expression over full module names: resolve it
			// against the seven projections by their usual full names.
			re, err := regexp.Compile("^(?:" + t + ")$")
			if err != nil {
				return fail("target_modules %q is not a valid regular expression: %v", t, err)
			}
			for _, m := range Modules {
				for _, full := range []string{"model.layers.0.self_attn." + m, "model.layers.0.mlp." + m} {
					if re.MatchString(full) && !contains(c.Targets, m) {
						c.Targets = append(c.Targets, m)
					}
				}
			}
		}
	case []any:
		for _, x := range t {
			s, _ := x.(string)
			if !contains(Modules, s) && s != "all-linear" {
				return fail("target_modules: %q is not one of %s", s, strings.Join(Modules, ", "))
			}
			c.Targets = append(c.Targets, s)
		}
	default:
		return fail("target_modules: want a list of module names or a string")
	}
	if err := c.Validate(); err != nil {
		return fail("%v", err)
	}
	return c, nil
}

// peftJSON encodes c as PEFT's adapter_config.json.
func (c *Config) peftJSON() ([]byte, error) {
	targets := append([]string(nil), c.Targets...)
	if contains(targets, "all-linear") {
		targets = append([]string(nil), Modules...)
	}
	sort.Strings(targets)
	var base *string
	if c.BaseModel != "" {
		b := c.BaseModel
		base = &b
	}
	task := "CAUSAL_LM"
	init := any(true)
	if c.Init == "gaussian" {
		init = "gaussian"
	}
	p := peftConfig{
		AlphaPattern: orEmpty(c.AlphaPattern), BaseModel: base, Bias: "none", InferenceMode: true,
		InitLoraWeights: init, LoraAlpha: c.Alpha, LoraDropout: c.Dropout, PeftType: "LORA", R: c.R,
		RankPattern: orEmpty(c.RankPattern), TargetModules: targets, TaskType: &task, UseRSLoRA: c.RSLoRA,
	}
	data, err := json.MarshalIndent(p, "", "  ")
	return append(data, '\n'), err
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// configPath is the adapter_config.json of an adapter folder.
func configPath(dir string) string { return filepath.Join(dir, "adapter_config.json") }
