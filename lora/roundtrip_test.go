package lora_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"hone/compute/ref"
	"hone/lora"
	"hone/model"
	"hone/safetensors"
)

func tinyModel(seed uint64) *model.Model {
	c := &model.Config{
		ModelType: "qwen2", Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4,
		Vocab: 20, MaxPositions: 32, RMSEps: 1e-6, QKVBias: true, TieEmbeddings: true, BOS: -1, Pad: -1,
		Rope: model.Rope{Theta: 1e6, Type: "default", Factor: 1},
	}
	return model.New(c, model.Init(c, 0.2, seed))
}

// TestSaveLoadSameLogits: an adapter trained by hone, saved and loaded back
// into a fresh copy of the model, gives identical logits.
func TestSaveLoadSameLogits(t *testing.T) {
	m := tinyModel(1)
	set, err := lora.New(m, lora.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj", "down_proj"}, RSLoRA: true}, 7)
	if err != nil {
		t.Fatal(err)
	}
	// make B non-zero so the adapter is not a no-op
	for _, a := range set.Adapters {
		for i := range a.B.F32() {
			a.B.F32()[i] = float32(i%5) * 0.01
		}
	}
	b := &model.Batch{B: 1, T: 6, IDs: []int32{3, 1, 4, 1, 5, 9}}
	want, _ := m.Logits(ref.Engine{}, b)
	dir := t.TempDir()
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2 := tinyModel(1)
	if _, err := lora.Load(dir, m2); err != nil {
		t.Fatal(err)
	}
	got, _ := m2.Logits(ref.Engine{}, b)
	if !reflect.DeepEqual(got.F32(), want.F32()) {
		t.Fatal("logits differ after a save/load round trip")
	}
	lora.Detach(m2)
	base, _ := m2.Logits(ref.Engine{}, b)
	if reflect.DeepEqual(base.F32(), want.F32()) {
		t.Fatal("the adapter does not change the logits; the test proves nothing")
	}
}

// TestPEFTRoundTrip: PEFT's adapter from the golden folder, loaded and saved
// by hone, has the same tensors and an equivalent config.
func TestPEFTRoundTrip(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, closeModel, err := model.Load(dir, model.FP32)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModel()
			src := filepath.Join(dir, "adapter")
			set, err := lora.Load(src, m)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if err := set.Save(out); err != nil {
				t.Fatal(err)
			}
			a, err := safetensors.Open(filepath.Join(src, "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !reflect.DeepEqual(a.Names(), b.Names()) {
				t.Fatalf("saved keys %v, PEFT's %v", b.Names(), a.Names())
			}
			for _, n := range a.Names() {
				x, _ := a.Tensor(n)
				y, _ := b.Tensor(n)
				if !reflect.DeepEqual(x.Shape, y.Shape) || !reflect.DeepEqual(x.ToF32().F32(), y.ToF32().F32()) {
					t.Errorf("%s differs after the round trip", n)
				}
			}
			var pc, hc map[string]any
			readJSON(t, filepath.Join(src, "adapter_config.json"), &pc)
			readJSON(t, filepath.Join(out, "adapter_config.json"), &hc)
			for _, k := range []string{"r", "lora_alpha", "lora_dropout", "peft_type", "use_rslora", "use_dora", "bias", "fan_in_fan_out"} {
				if !reflect.DeepEqual(pc[k], hc[k]) {
					t.Errorf("adapter_config %s: hone wrote %v, PEFT %v", k, hc[k], pc[k])
				}
			}
			if got, want := sortedStrings(hc["target_modules"]), sortedStrings(pc["target_modules"]); !reflect.DeepEqual(got, want) {
				t.Errorf("target_modules: hone wrote %v, PEFT %v", got, want)
			}
			// hone's saved adapter loads back (as PEFT's loader would need)
			if _, err := lora.Load(out, m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func sortedStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	sort.Strings(out)
	return out
}

// TestLoadReportsEveryMismatch: a wrong adapter is rejected with every
// problem listed.
func TestLoadReportsEveryMismatch(t *testing.T) {
	m := tinyModel(1)
	set, err := lora.New(m, lora.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "k_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.Save(dir); err != nil {
		t.Fatal(err)
	}
	// a model whose q_proj is wider: 8 heads instead of 4
	c := *m.Config
	c.Heads, c.HeadDim = 8, 4
	wide := model.New(&c, model.Init(&c, 0.2, 1))
	_, err = lora.Load(dir, wide)
	if err == nil {
		t.Fatal("loading an adapter into a model of other shapes succeeded")
	}
	for _, want := range []string{"layers.0.self_attn.q_proj.lora_B", "layers.1.self_attn.q_proj.lora_B"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
