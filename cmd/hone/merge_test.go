package main

import (
	"math"
	"path/filepath"
	"testing"

	"hone/compute/ref"
	"hone/internal/shared"
	"hone/model"
	"hone/safetensors"
)

// TestMergeGolden merges PEFT's golden adapter with `hone merge` and checks
// the saved model against transformers' merged logits.
func TestMergeGolden(t *testing.T) {
	dir := shared.Path(t, "golden", "qwen2")
	out := filepath.Join(t.TempDir(), "merged")
	if _, stderr, code := hone(t, "", "merge", "--model", dir, "--adapter", filepath.Join(dir, "adapter"), "--out", out); code != 0 {
		t.Fatalf("merge exited %d: %s", code, stderr)
	}
	m, closeModel, err := model.Load(out, model.FP32)
	if err != nil {
		t.Fatal(err)
	}
	defer closeModel()
	g, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	in, _ := g.Tensor("input_ids")
	var ids []int32
	for _, v := range in.Int64s() {
		ids = append(ids, int32(v))
	}
	logits, err := m.Logits(ref.Engine{}, &model.Batch{B: in.Shape[0], T: in.Shape[1], IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.Tensor("logits_merged")
	var d float64
	for i, v := range want.F32() {
		d = math.Max(d, math.Abs(float64(v-logits.F32()[i])))
	}
	if d > 1e-4 {
		t.Fatalf("merged model's logits differ from transformers' by %.3g, want <= 1e-4", d)
	}
	if _, _, code := hone(t, "", "merge", "--model", dir, "--adapter", filepath.Join(dir, "adapter"), "--out", out); code == 0 {
		t.Fatal("merge into a non-empty folder succeeded")
	}
}
