package safetensors

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"hone/tensor"
)

// smolLM2Names returns the tensors of a SmolLM2-135M checkpoint (30 layers,
// hidden 576, 9 query and 3 key/value heads of 64, ffn 1536, vocab 49152,
// tied embeddings) under their Hugging Face names, in BF16, all sharing one
// zeroed buffer so that building them costs no more than the largest tensor.
func smolLM2Names() []Named {
	const (
		layers, hidden, kv, ffn, vocab = 30, 576, 3 * 64, 1536, 49152
	)
	buf := make([]byte, vocab*hidden*2)
	mk := func(shape ...int) *tensor.Tensor {
		n := 2
		for _, d := range shape {
			n *= d
		}
		return &tensor.Tensor{DType: tensor.BF16, Shape: shape, Data: buf[:n:n]}
	}
	in := []Named{{"model.embed_tokens.weight", mk(vocab, hidden)}, {"model.norm.weight", mk(hidden)}}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		in = append(in,
			Named{p + "self_attn.q_proj.weight", mk(hidden, hidden)},
			Named{p + "self_attn.k_proj.weight", mk(kv, hidden)},
			Named{p + "self_attn.v_proj.weight", mk(kv, hidden)},
			Named{p + "self_attn.o_proj.weight", mk(hidden, hidden)},
			Named{p + "mlp.gate_proj.weight", mk(ffn, hidden)},
			Named{p + "mlp.up_proj.weight", mk(ffn, hidden)},
			Named{p + "mlp.down_proj.weight", mk(hidden, ffn)},
			Named{p + "input_layernorm.weight", mk(hidden)},
			Named{p + "post_attention_layernorm.weight", mk(hidden)},
		)
	}
	return in
}

var bench135M struct {
	once   sync.Once
	dir    string
	path   string
	params int64
	err    error
}

// checkpoint135M writes the synthetic SmolLM2-135M checkpoint once per test
// binary (about 270 MB); TestMain removes it.
func checkpoint135M(b *testing.B) (string, int64) {
	c := &bench135M
	c.once.Do(func() {
		if c.dir, c.err = os.MkdirTemp("", "hone-safetensors-bench-"); c.err != nil {
			return
		}
		c.path = filepath.Join(c.dir, SingleFile)
		in := smolLM2Names()
		for _, nt := range in {
			c.params += int64(nt.Tensor.Numel())
		}
		c.err = Write(c.path, in, map[string]string{"format": "pt"})
	})
	if c.err != nil {
		b.Fatal(c.err)
	}
	return c.path, c.params
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench135M.dir != "" {
		os.RemoveAll(bench135M.dir)
	}
	os.Exit(code)
}

// BenchmarkOpen135M measures what loading the frozen weights of a
// 135M-parameter model costs: Open (map + header validation) and Tensor()
// for each of its 272 tensors, then Close. No weight byte is read or copied.
func BenchmarkOpen135M(b *testing.B) {
	path, params := checkpoint135M(b)
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			if _, err := f.Tensor(name); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	b.ReportMetric(float64(params)/1e6, "Mparams")
}

// BenchmarkOpen135MTouch is BenchmarkOpen135M plus reading one byte of every
// 4 KiB page of every tensor: the cost of faulting the whole mapped model in
// from a warm page cache, which the first forward pass pays.
func BenchmarkOpen135MTouch(b *testing.B) {
	path, _ := checkpoint135M(b)
	var sink byte
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			t, err := f.Tensor(name)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(t.Data); i += 4096 {
				sink += t.Data[i]
			}
		}
		f.Close()
	}
	_ = sink
}

// BenchmarkReadFile135M is the copying peer: os.ReadFile of the same
// checkpoint from a warm page cache, what a loader without mmap pays at least.
func BenchmarkReadFile135M(b *testing.B) {
	path, _ := checkpoint135M(b)
	for b.Loop() {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
