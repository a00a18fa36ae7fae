package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const planTestConfig = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096,
"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,
"vocab_size":32000,"max_position_embeddings":4096,"rms_norm_eps":1e-5}`

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(planTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--device", "cuda", "--memory", "24GiB"}, 0, []string{"recommendation: lora", "full", "no", "technique: lora", "gradient_checkpointing"}},
		{[]string{"--device", "cuda", "--memory", "12GiB"}, 0, []string{"recommendation: qlora"}},
		{[]string{"--device", "cuda", "--memory", "2GiB"}, 0, []string{"none fits", "smaller base model"}},
		{[]string{"--device", "cpu", "--memory", "64GiB", "--tflops", "0.2", "--seq", "512"}, 0, []string{"cpu, float32", "precision: fp32"}},
		{[]string{"--device", "tpu"}, 2, []string{"--device"}},
		{[]string{"--memory", "lots"}, 2, []string{"--memory"}},
		{[]string{"--device", "cuda", "--targets", "lm_head"}, 2, []string{"lm_head"}},
	}
	for _, c := range cases {
		args := append([]string{"plan", "--model", dir}, c.args...)
		out, errOut, code := hone(t, "", args...)
		for _, w := range c.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("hone %v: output lacks %q:\n%s%s", args, w, out, errOut)
			}
		}
		if code != c.code {
			t.Errorf("hone %v exited %d, want %d: %s", args, code, c.code, errOut)
		}
	}
	_, errOut, code := hone(t, "", "plan", "--model", filepath.Join(dir, "missing"))
	if code == 0 || !strings.Contains(errOut, "no such model folder") {
		t.Errorf("hone plan on a missing folder = exit %d, %q", code, errOut)
	}

	out, _, code := hone(t, "", "plan", "--model", dir, "--device", "cuda", "--json")
	var p struct {
		Choice  string
		Options []struct {
			Fits   bool
			Memory struct{ Weights int64 }
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Choice != "lora" || len(p.Options) != 3 {
		t.Errorf("hone plan --json = exit %d, %+v:\n%s", code, p, out)
	}
}

func TestPlanPullsConfigOnly(t *testing.T) {
	srv := miniHub(t, map[string]string{"config.json": planTestConfig, "model.safetensors": "weights"})
	cache := t.TempDir()
	env := []string{"HF_ENDPOINT=" + srv.URL, "HF_HUB_CACHE=" + cache, "HF_HUB_OFFLINE=", "HF_TOKEN="}
	out, errOut, code := honeEnv(t, env, "plan", "--model", "org/mini", "--device", "cuda")
	if code != 0 || !strings.Contains(out, "6.74B parameters") {
		t.Fatalf("hone plan --model org/mini = exit %d: %s%s", code, out, errOut)
	}
	snap := filepath.Join(cache, "models--org--mini", "snapshots", "89abcdef0123456789abcdef0123456789abcdef")
	if _, err := os.Stat(filepath.Join(snap, "config.json")); err != nil {
		t.Errorf("config.json not pulled: %v", err)
	}
	if _, err := os.Stat(filepath.Join(snap, "model.safetensors")); err == nil {
		t.Error("hone plan pulled the weights; it needs config.json only")
	}
}
