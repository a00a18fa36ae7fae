package lora_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/lora"
	"hone/safetensors"
	"hone/tensor"
)

// TestSaveFailureKeepsOldPair: a Save whose config cannot be written (a NaN
// alpha) fails with an error naming adapter_config.json and leaves the
// folder's previous config and weights exactly as they were, with no
// temporaries beside them.
func TestSaveFailureKeepsOldPair(t *testing.T) {
	m := tinyModel(1)
	set, err := lora.New(m, lora.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	read := func() (cfg, weights []byte) {
		cfg, err1 := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
		weights, err2 := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return cfg, weights
	}
	cfg0, w0 := read()
	for i := range set.Adapters[0].B.F32() {
		set.Adapters[0].B.F32()[i] = 1 // new weights that must not land
	}
	for _, bad := range []func(c *lora.Config){
		func(c *lora.Config) { c.Alpha = math.NaN() },
		func(c *lora.Config) { c.AlphaPattern = map[string]float64{"q_proj": math.Inf(1)} },
	} {
		s2 := *set
		bad(&s2.Config)
		err := s2.Save(dir)
		if err == nil || !strings.Contains(err.Error(), "adapter_config.json") {
			t.Fatalf("Save(bad config) = %v, want an error naming adapter_config.json", err)
		}
		cfg1, w1 := read()
		if !bytes.Equal(cfg0, cfg1) || !bytes.Equal(w0, w1) {
			t.Fatalf("a failed Save changed the folder (config changed: %v, weights changed: %v)", !bytes.Equal(cfg0, cfg1), !bytes.Equal(w0, w1))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 2 {
			t.Fatalf("after a failed Save the folder holds %d entries, want the 2 files", len(ents))
		}
	}
	// and a good Save replaces both, leaving no temporaries
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, w2 := read(); bytes.Equal(w0, w2) {
		t.Fatal("Save did not replace the weights")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("after Save the folder holds %d entries, want 2", len(ents))
	}
}

// TestValidateAlphaPattern: alpha_pattern values are held to the same rule
// as lora_alpha (finite and positive), and pattern keys must compile.
func TestValidateAlphaPattern(t *testing.T) {
	for _, tc := range []struct {
		cfg  lora.Config
		want string
	}{
		{lora.Config{AlphaPattern: map[string]float64{"q_proj": math.NaN()}}, `alpha_pattern["q_proj"]`},
		{lora.Config{AlphaPattern: map[string]float64{"v_proj": math.Inf(-1)}}, `alpha_pattern["v_proj"]`},
		{lora.Config{AlphaPattern: map[string]float64{"k_proj": 0}}, `alpha_pattern["k_proj"]`},
		{lora.Config{AlphaPattern: map[string]float64{"k_proj": -2}}, `alpha_pattern["k_proj"]`},
		{lora.Config{AlphaPattern: map[string]float64{"(?!x)q": 4}}, `alpha_pattern["(?!x)q"]`},
		{lora.Config{RankPattern: map[string]int{"q_proj(": 4}}, `rank_pattern["q_proj("]`},
	} {
		c := tc.cfg
		c.R, c.Alpha, c.Targets = 4, 8, []string{"q_proj"}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	ok := lora.Config{R: 4, Alpha: 8, Targets: []string{"q_proj"}, AlphaPattern: map[string]float64{"layers\\.0\\..*": 0.5}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(positive alpha_pattern) = %v", err)
	}
}

// TestLoadRejectsNonFloat: adapter tensors stored as integers or bytes are
// reported by name, not a panic in the conversion to float32.
func TestLoadRejectsNonFloat(t *testing.T) {
	m := tinyModel(1)
	set, err := lora.New(m, lora.Config{R: 2, Alpha: 4, Targets: []string{"q_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	var named []safetensors.Named
	for _, p := range set.Params() {
		named = append(named, safetensors.Named{Name: p.Name, Tensor: tensor.New(tensor.I8, p.Value.Shape...)})
	}
	if err := safetensors.Write(filepath.Join(dir, "adapter_model.safetensors"), named, nil); err != nil {
		t.Fatal(err)
	}
	_, err = lora.Load(dir, tinyModel(1))
	if err == nil || !strings.Contains(err.Error(), "layers.0.self_attn.q_proj.lora_A.weight has dtype I8") {
		t.Fatalf("Load(I8 tensors) = %v, want an error naming the tensor and its dtype", err)
	}
}
