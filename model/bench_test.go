package model_test

import (
	"os"
	"path/filepath"
	"testing"

	"hone/model"
	"hone/tensor"
)

// smolConfig is the SmolLM2-135M architecture.
func smolConfig() *model.Config {
	return &model.Config{
		ModelType: "llama", Hidden: 576, Intermediate: 1536, Layers: 30, Heads: 9, KVHeads: 3, HeadDim: 64,
		Vocab: 49152, MaxPositions: 8192, RMSEps: 1e-5, TieEmbeddings: true, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 100000, Type: "default", Factor: 1}, DType: "bfloat16",
	}
}

// BenchmarkLoad135M loads a SmolLM2-135M-shaped bf16 checkpoint (written
// once, with random weights) with model.Load at bf16 precision: the weights
// stay in the memory map, so loading costs header parsing and validation,
// not a copy of 270 MB.
func BenchmarkLoad135M(b *testing.B) {
	c := smolConfig()
	dir := b.TempDir()
	w := &model.Weights{}
	for _, p := range w.Params(c) {
		*p.Ptr = tensor.New(tensor.BF16, p.Shape...) // zeros are fine for loading
	}
	if err := model.Save(dir, c, w, tensor.BF16); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "model.safetensors"))
	b.ReportMetric(float64(st.Size())/1e6, "MB")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, closeModel, err := model.Load(dir, model.BF16)
		if err != nil {
			b.Fatal(err)
		}
		if m.Config.NumParams() < 134e6 {
			b.Fatalf("%d parameters", m.Config.NumParams())
		}
		closeModel()
	}
}

// BenchmarkActivationMemory reports the activation memory of a training
// step at the SmolLM2-135M shape (batch 1, seq 256, and seq 1024), with
// and without gradient checkpointing.
func BenchmarkActivationMemory(b *testing.B) {
	c := smolConfig()
	m := model.New(c, &model.Weights{Norm: tensor.New(tensor.F32, c.Hidden)})
	for _, seq := range []int{256, 1024} {
		full := m.NewActivations(1, seq, false).Bytes()
		ckpt := m.NewActivations(1, seq, true).Bytes()
		b.Logf("seq %d: activations %.1f MiB, with checkpointing %.1f MiB (%.1fx less)", seq,
			float64(full)/(1<<20), float64(ckpt)/(1<<20), float64(full)/float64(ckpt))
		if seq == 256 {
			b.ReportMetric(float64(full)/(1<<20), "MiB-full")
			b.ReportMetric(float64(ckpt)/(1<<20), "MiB-ckpt")
		}
	}
	for b.Loop() {
		m.NewActivations(1, 256, true)
	}
}
