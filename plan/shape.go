package plan

import (
	"fmt"
	"slices"

	"hone/model"
)

// Shape is the part of a model's architecture the planner needs.
type Shape struct {
	// Name labels the model in reports (the folder or Hub id).
	Name string
	// Hidden, Intermediate, Layers, Heads, KVHeads, HeadDim and Vocab are
	// config.json's sizes with defaults resolved.
	Hidden, Intermediate, Layers, Heads, KVHeads, HeadDim, Vocab int
	// Tied says the LM head shares the embedding matrix.
	Tied bool
	// QKNorm says q and k have a per-head norm (Qwen3).
	QKNorm bool
	// Params is the parameter count (the tied head counted once).
	Params int64
}

// ShapeOf reads the sizes of a parsed config.
func ShapeOf(name string, c *model.Config) Shape {
	return Shape{
		Name: name, Hidden: c.Hidden, Intermediate: c.Intermediate, Layers: c.Layers,
		Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Vocab: c.Vocab,
		Tied: c.TieEmbeddings, QKNorm: c.QKNorm, Params: c.NumParams(),
	}
}

// ParseShape reads the sizes from the bytes of a config.json.
func ParseShape(name string, configJSON []byte) (Shape, error) {
	c, err := model.ParseConfig(configJSON)
	if err != nil {
		return Shape{}, err
	}
	return ShapeOf(name, c), nil
}

// LoadShape reads dir/config.json.
func LoadShape(dir string) (Shape, error) {
	c, err := model.LoadConfig(dir)
	if err != nil {
		return Shape{}, err
	}
	return ShapeOf(dir, c), nil
}

func (s Shape) q() int64  { return int64(s.Heads * s.HeadDim) }
func (s Shape) kv() int64 { return int64(s.KVHeads * s.HeadDim) }

// LinearParams counts the decoder's projection weights (q, k, v, o, gate,
// up, down of every layer): what QLoRA quantises.
func (s Shape) LinearParams() int64 {
	h, f := int64(s.Hidden), int64(s.Intermediate)
	return int64(s.Layers) * (2*h*s.q() + 2*h*s.kv() + 3*h*f)
}

// HeadParams counts the LM head's weights (the embedding when tied).
func (s Shape) HeadParams() int64 { return int64(s.Vocab) * int64(s.Hidden) }

// Modules are the linear modules LoRA can target, in PEFT's names.
var Modules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// moduleDims returns the input and output widths of a linear module.
func (s Shape) moduleDims(m string) (in, out int64) {
	h, f := int64(s.Hidden), int64(s.Intermediate)
	switch m {
	case "q_proj":
		return h, s.q()
	case "k_proj", "v_proj":
		return h, s.kv()
	case "o_proj":
		return s.q(), h
	case "gate_proj", "up_proj":
		return h, f
	case "down_proj":
		return f, h
	}
	return 0, 0
}

// expandTargets resolves "all-linear" and checks module names.
func expandTargets(targets []string) ([]string, error) {
	var out []string
	for _, t := range targets {
		if t == "all-linear" {
			return Modules, nil
		}
		if !slices.Contains(Modules, t) {
			return nil, fmt.Errorf("lora target %q: want one of %v or all-linear", t, Modules)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return Modules, nil
	}
	return out, nil
}

// LoRAParams counts the adapter parameters of rank r on the target modules
// of every layer: r·(in+out) per module.
func (s Shape) LoRAParams(r int, targets []string) int64 {
	ts, err := expandTargets(targets)
	if err != nil {
		return 0
	}
	var n int64
	for _, m := range ts {
		in, out := s.moduleDims(m)
		n += int64(r) * (in + out)
	}
	return n * int64(s.Layers)
}
