package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"

	"hone/model"
	"hone/tensor"
)

// shapeConfigs are the config.json files of the models whose shapes the
// benchmarks use, with the values of their Hugging Face releases.
var shapeConfigs = map[string]string{
	"smollm2-135m": `{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
		"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
		"num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
		"vocab_size": 49152, "max_position_embeddings": 8192, "rms_norm_eps": 1e-05,
		"rope_theta": 100000, "tie_word_embeddings": true,
		"bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}`,
	"qwen2.5-0.5b": `{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
		"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
		"num_attention_heads": 14, "num_key_value_heads": 2,
		"vocab_size": 151936, "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
		"rope_theta": 1000000.0, "tie_word_embeddings": true, "sliding_window": 32768,
		"use_sliding_window": false, "bos_token_id": 151643, "eos_token_id": 151643,
		"torch_dtype": "bfloat16"}`,
	"llama-3.2-1b": `{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
		"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
		"num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
		"vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
		"rope_theta": 500000.0, "tie_word_embeddings": true,
		"rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
			"original_max_position_embeddings": 8192, "rope_type": "llama3"},
		"bos_token_id": 128000, "eos_token_id": 128001, "torch_dtype": "bfloat16"}`,
}

// Shapes lists the model shapes Shape knows, sorted.
func Shapes() []string {
	var names []string
	for n := range shapeConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Shape returns the architecture of a known model by name (see Shapes):
// its config as model.ParseConfig reads the model's config.json.
func Shape(name string) (*model.Config, error) {
	js, ok := shapeConfigs[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown model shape %q (known: %s)", name, strings.Join(Shapes(), ", "))
	}
	return model.ParseConfig([]byte(js))
}

// RandomModel returns a model of architecture c with random weights at the
// given precision: matrices uniform with the standard deviation std (the
// speed of the arithmetic does not depend on the values, but the loss and
// the softmax should stay in a realistic range), norm weights one, biases
// zero. Matrices are drawn straight into their final dtype, so a bf16 model
// never holds a float32 copy of its weights, and into one tensor.Arena in
// checkpoint order, where model.LoadWeights puts a loaded model's.
func RandomModel(c *model.Config, prec model.Precision, std float64, seed uint64) *model.Model {
	w := &model.Weights{}
	params := w.Params(c)
	mdt := tensor.F32
	if prec == model.BF16 {
		mdt = tensor.BF16
	}
	size := 0
	for _, p := range params {
		if len(p.Shape) == 2 {
			size += tensor.ArenaSize(mdt, p.Shape...)
		}
	}
	arena := tensor.NewArena(size)
	for i, p := range params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		matrix := len(p.Shape) == 2
		var t *tensor.Tensor
		if matrix {
			t = arena.New(mdt, p.Shape...)
		} else {
			t = tensor.New(tensor.F32, p.Shape...)
		}
		switch {
		case !matrix && strings.HasSuffix(p.Name, "norm.weight"):
			v := t.F32()
			for j := range v {
				v[j] = 1
			}
		case matrix:
			fillUniform(t, std*math.Sqrt(3), seed+uint64(i))
		}
		*p.Ptr = t
	}
	arena.Settle()
	if c.TieEmbeddings {
		w.LMHead = w.Embed
	}
	return model.New(c, w)
}

// fillChunk is how many elements fillUniform draws from one stream.
const fillChunk = 1 << 20

// fillUniform fills t (F32 or BF16) uniformly in [-bound, bound), a chunk
// of elements per goroutine, each chunk from its own stream (so the values
// do not depend on the number of cores).
func fillUniform(t *tensor.Tensor, bound float64, seed uint64) {
	n := t.Numel()
	chunks := (n + fillChunk - 1) / fillChunk
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for c := 0; c < chunks; c++ {
		next <- c
	}
	close(next)
	for g := 0; g < min(chunks, runtime.GOMAXPROCS(0)); g++ {
		wg.Go(func() {
			for c := range next {
				lo, hi := c*fillChunk, min(n, (c+1)*fillChunk)
				r := rand.New(rand.NewPCG(seed, uint64(c)))
				scale, off := float32(2*bound), float32(bound)
				switch t.DType {
				case tensor.F32:
					v := t.F32()[lo:hi]
					for j := range v {
						v[j] = r.Float32()*scale - off
					}
				case tensor.BF16:
					v := t.BF16()[lo:hi]
					for j := range v {
						v[j] = tensor.F32ToBF16(r.Float32()*scale - off)
					}
				}
			}
		})
	}
	wg.Wait()
}
