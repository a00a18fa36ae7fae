package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"hone/internal/shared"
)

// goldenConfig is the part of config.json that fixes the checkpoint's names
// and shapes.
type goldenConfig struct {
	ModelType string `json:"model_type"`
	Hidden    int    `json:"hidden_size"`
	Inter     int    `json:"intermediate_size"`
	Layers    int    `json:"num_hidden_layers"`
	Heads     int    `json:"num_attention_heads"`
	KVHeads   int    `json:"num_key_value_heads"`
	HeadDim   int    `json:"head_dim"`
	Vocab     int    `json:"vocab_size"`
	Tied      bool   `json:"tie_word_embeddings"`
	AttnBias  bool   `json:"attention_bias"`
}

// wantShapes lists every tensor a Llama-family checkpoint with config c holds,
// with its shape, as transformers names them.
func wantShapes(c goldenConfig) map[string][]int {
	hd := c.HeadDim
	if hd == 0 {
		hd = c.Hidden / c.Heads
	}
	q, kv := c.Heads*hd, c.KVHeads*hd
	m := map[string][]int{
		"model.embed_tokens.weight": {c.Vocab, c.Hidden},
		"model.norm.weight":         {c.Hidden},
	}
	if !c.Tied {
		m["lm_head.weight"] = []int{c.Vocab, c.Hidden}
	}
	bias := c.AttnBias || c.ModelType == "qwen2"
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		m[p+"input_layernorm.weight"] = []int{c.Hidden}
		m[p+"post_attention_layernorm.weight"] = []int{c.Hidden}
		m[p+"self_attn.q_proj.weight"] = []int{q, c.Hidden}
		m[p+"self_attn.k_proj.weight"] = []int{kv, c.Hidden}
		m[p+"self_attn.v_proj.weight"] = []int{kv, c.Hidden}
		m[p+"self_attn.o_proj.weight"] = []int{c.Hidden, q}
		m[p+"mlp.gate_proj.weight"] = []int{c.Inter, c.Hidden}
		m[p+"mlp.up_proj.weight"] = []int{c.Inter, c.Hidden}
		m[p+"mlp.down_proj.weight"] = []int{c.Hidden, c.Inter}
		if bias {
			m[p+"self_attn.q_proj.bias"] = []int{q}
			m[p+"self_attn.k_proj.bias"] = []int{kv}
			m[p+"self_attn.v_proj.bias"] = []int{kv}
		}
	}
	return m
}

// TestGoldenModels reads the checkpoints transformers wrote in
// ../shared/golden, checks every name and shape against config.json, and
// checks that Write reproduces each file (model, PEFT adapter, golden
// tensors) byte for byte.
func TestGoldenModels(t *testing.T) {
	root := shared.Env(t, "HONE_GOLDEN_DIR", "golden")
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "config.json"))
	if len(dirs) == 0 {
		t.Fatalf("no */config.json under %s", root)
	}
	for _, cfgPath := range dirs {
		dir := filepath.Dir(cfgPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			var cfg goldenConfig
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatalf("%s: %v", cfgPath, err)
			}
			s, err := OpenModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want := wantShapes(cfg)
			var wantNames []string
			for n := range want {
				wantNames = append(wantNames, n)
			}
			slices.Sort(wantNames)
			if got := s.Names(); !slices.Equal(got, wantNames) {
				t.Errorf("Names() = %v, want %v", got, wantNames)
			}
			for name, shape := range want {
				info, err := s.Info(name)
				if err != nil {
					t.Error(err)
					continue
				}
				if info.DType != "F32" || !slices.Equal(info.Shape, shape) {
					t.Errorf("Info(%q) = %s%v, want F32%v", name, info.DType, info.Shape, shape)
				}
				tt, err := s.Tensor(name)
				if err != nil {
					t.Error(err)
					continue
				}
				for i, v := range tt.F32() {
					if v != v {
						t.Errorf("%s[%d] is NaN", name, i)
						break
					}
				}
			}
			for _, p := range []string{SingleFile, "golden.safetensors", filepath.Join("adapter", "adapter_model.safetensors")} {
				rewriteIdentical(t, filepath.Join(dir, p))
			}
		})
	}
}

// rewriteIdentical reads path and writes its tensors and metadata again; the
// bytes must be those the Python library wrote.
func rewriteIdentical(t *testing.T, path string) {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	var in []Named
	for _, name := range f.Names() {
		tt, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, Named{name, tt})
	}
	out := filepath.Join(t.TempDir(), "rewrite.safetensors")
	if err := Write(out, in, f.Metadata()); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(path)
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		n := 0
		for n < len(got) && n < len(want) && got[n] == want[n] {
			n++
		}
		t.Errorf("Write(tensors of %s) differs from the original at byte %d of %d (got %d bytes)", path, n, len(want), len(got))
	}
}
