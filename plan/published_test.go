package plan

import (
	"math"
	"testing"
)

// llama2_7B is Llama-2-7B's config.json (written out here from its
// published sizes).
const llama2_7B = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096,
"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,
"vocab_size":32000,"max_position_embeddings":4096,"rms_norm_eps":1e-5,"tie_word_embeddings":false,
"torch_dtype":"float16","bos_token_id":1,"eos_token_id":2}`

// TestPublishedFigures7B reproduces the published memory needs of
// fine-tuning a 7B model (QLoRA paper and the Hugging Face / PEFT
// documentation: QLoRA ~6 GB, LoRA ~16 GB, full ~120 GB in mixed precision
// with Adam) within 25%, for a short-sequence run with gradient
// checkpointing (sequence 512, batch 1, rank 16 on every projection).
func TestPublishedFigures7B(t *testing.T) {
	sh, err := ParseShape("llama-2-7b", []byte(llama2_7B))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(sh.Params)-6.738e9) > 1e7 {
		t.Fatalf("Llama-2-7B params = %d, want 6.738e9", sh.Params)
	}
	p := Torch(1e14)
	cases := []struct {
		tech Technique
		want float64 // GB
	}{
		{QLoRA, 6},
		{LoRA, 16},
		{Full, 120},
	}
	for _, c := range cases {
		s := Setup{Technique: c.tech, Seq: 512, MicroBatch: 1, Accum: 1, Checkpointing: true, Rank: 16, Targets: []string{"all-linear"}, Dropout: 0.05}
		m := EstimateMemory(sh, p, s)
		got := float64(m.Peak()) / 1e9
		t.Logf("%s: %.1f GB (weights %.1f, master %.1f, grads %.2f, optim %.2f, adapter %.2f, acts %.2f, logits %.2f)",
			c.tech, got, gb(m.Weights), gb(m.Master), gb(m.Gradients), gb(m.Optimizer), gb(m.Adapter), gb(m.Activations), gb(m.Logits))
		if math.Abs(got-c.want)/c.want > 0.25 {
			t.Errorf("EstimateMemory(7B, %s).Peak() = %.1f GB, want %.0f GB ± 25%%", c.tech, got, c.want)
		}
	}
}

func gb(n int64) float64 { return float64(n) / 1e9 }
