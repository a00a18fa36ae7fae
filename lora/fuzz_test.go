package lora

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hone/model"
	"hone/safetensors"
	"hone/tensor"
)

// fuzzModel is a tiny two-layer model to load adapters into.
func fuzzModel() *model.Model {
	c := &model.Config{
		ModelType: "llama", Hidden: 8, Intermediate: 12, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 4,
		Vocab: 10, MaxPositions: 16, RMSEps: 1e-6, BOS: -1, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	return model.New(c, model.Init(c, 0.2, 1))
}

// savedFolder saves a set made with cfg on m with hone's own writer and
// returns the bytes of its adapter_config.json and adapter_model.safetensors.
func savedFolder(t testing.TB, m *model.Model, cfg Config) (config, weights []byte) {
	t.Helper()
	set, err := New(m, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	Detach(m)
	dir := t.TempDir()
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	config, err1 := os.ReadFile(configPath(dir))
	weights, err2 := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return config, weights
}

// seedConfigs are configs hone writes: plain, RSLoRA with Gaussian init and
// patterns, all-linear.
var seedConfigs = []Config{
	{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}},
	{R: 2, Alpha: 3, Dropout: 0.1, Targets: []string{"k_proj", "down_proj"}, RSLoRA: true, Init: "gaussian",
		RankPattern: map[string]int{"layers.1.mlp.down_proj": 3}, AlphaPattern: map[string]float64{"k_proj": 5}, BaseModel: "tiny"},
	{R: 1, Alpha: 1, Targets: []string{"all-linear"}},
}

// sameBehaviour reports how a and b differ in what loading an adapter
// depends on: which modules are targeted and each one's rank, alpha and
// scale.
func sameBehaviour(a, b *Config, m *model.Model) string {
	if a.Dropout != b.Dropout || a.RSLoRA != b.RSLoRA || a.Init != b.Init || a.BaseModel != b.BaseModel {
		return "dropout, rslora, init or base model"
	}
	for _, name := range m.Config.LinearNames() {
		if a.Targeted(name) != b.Targeted(name) {
			return "whether " + name + " is targeted"
		}
		ra, aa := a.RankAlpha(name)
		rb, ab := b.RankAlpha(name)
		if ra != rb || aa != ab || a.Scale(ra, aa) != b.Scale(rb, ab) {
			return "the rank or alpha of " + name
		}
	}
	return ""
}

// FuzzReadConfig feeds arbitrary bytes to the adapter_config.json parser.
// It must not panic; an error names the file; an accepted config is valid,
// and writing it as PEFT JSON and reading that back gives a config that
// behaves the same and is a fixed point of the round trip.
func FuzzReadConfig(f *testing.F) {
	m := fuzzModel()
	for _, cfg := range seedConfigs {
		data, err := cfg.peftJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"r": 8, "lora_alpha": 16, "target_modules": "model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj"}`))
	f.Add([]byte(`{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"], "alpha_pattern": {"q_proj": 0}}`))
	f.Add([]byte(`{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"], "rank_pattern": {"(": 2}}`))
	f.Add([]byte(`{"r": 0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data, "fuzz/adapter_config.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz/adapter_config.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		if math.IsNaN(c.Alpha) || c.Alpha <= 0 {
			t.Fatalf("accepted alpha %v", c.Alpha)
		}
		enc, err := c.peftJSON()
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		c2, err := parseConfig(enc, "again.json")
		if err != nil {
			t.Fatalf("hone's own encoding of an accepted config is rejected: %v\n%s", err, enc)
		}
		if d := sameBehaviour(c, c2, m); d != "" {
			t.Fatalf("after a round trip the config differs in %s:\n%s", d, enc)
		}
		enc2, err := c2.peftJSON()
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("the encoding is not a fixed point (%v):\n%s\n%s", err, enc, enc2)
		}
	})
}

// FuzzLoad feeds arbitrary adapter_config.json and adapter_model.safetensors
// bytes to the PEFT folder loader. It must not panic; an error names the
// folder or file; an accepted set has one adapter per targeted module with
// the shapes the model and config call for, a finite positive scale, and
// saving and loading it again gives the same tensors.
func FuzzLoad(f *testing.F) {
	m := fuzzModel()
	for _, cfg := range seedConfigs {
		c, w := savedFolder(f, m, cfg)
		f.Add(c, w)
	}
	c0, w0 := savedFolder(f, m, seedConfigs[0])
	f.Add([]byte(`{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}`), w0)
	f.Add(c0, w0[:len(w0)/2])
	// the same tensors stored as I8, which once panicked in ToF32
	set, err := New(m, seedConfigs[0], 1)
	if err != nil {
		f.Fatal(err)
	}
	Detach(m)
	var named []safetensors.Named
	for _, p := range set.Params() {
		named = append(named, safetensors.Named{Name: p.Name, Tensor: tensor.New(tensor.I8, p.Value.Shape...)})
	}
	i8 := filepath.Join(f.TempDir(), "i8.safetensors")
	if err := safetensors.Write(i8, named, nil); err != nil {
		f.Fatal(err)
	}
	wi8, err := os.ReadFile(i8)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c0, wi8)
	f.Fuzz(func(t *testing.T, config, weights []byte) {
		cfg, err := parseConfig(config, "fuzz/adapter_config.json")
		if err != nil {
			return // FuzzReadConfig's business
		}
		st, err := safetensors.OpenBytes("fuzz/adapter_model.safetensors", weights)
		if err != nil {
			return // safetensors' FuzzHeader's business
		}
		s, err := load("fuzz", cfg, st, m)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error %q does not name the folder", err)
			}
			return
		}
		for _, a := range s.Adapters {
			out, in := m.W.LinearByName(a.Name).Dims()
			r, alpha := cfg.RankAlpha(a.Name)
			if !reflect.DeepEqual(a.A.Shape, []int{r, in}) || !reflect.DeepEqual(a.B.Shape, []int{out, r}) {
				t.Fatalf("%s: A %v, B %v for a [%d, %d] projection of rank %d", a.Name, a.A.Shape, a.B.Shape, out, in, r)
			}
			if sc := float64(a.Scale); math.IsNaN(sc) || math.IsInf(sc, 0) || sc <= 0 || float32(cfg.Scale(r, alpha)) != a.Scale {
				t.Fatalf("%s: scale %v", a.Name, a.Scale)
			}
		}
		dir := t.TempDir()
		if err := s.Save(dir); err != nil {
			t.Fatalf("Save of a loaded set: %v", err)
		}
		back, err := Load(dir, fuzzModel())
		if err != nil {
			t.Fatalf("Load of a saved set: %v", err)
		}
		if len(back.Adapters) != len(s.Adapters) {
			t.Fatalf("%d adapters after a round trip, want %d", len(back.Adapters), len(s.Adapters))
		}
		for i, a := range s.Adapters {
			b := back.Adapters[i]
			if a.Name != b.Name || a.Scale != b.Scale || string(a.A.Data) != string(b.A.Data) || string(a.B.Data) != string(b.B.Data) {
				t.Fatalf("adapter %s differs after a round trip", a.Name)
			}
		}
	})
}
