package main

import (
	"math"
	"path/filepath"
	"strings"
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
	stdout, stderr, code := hone(t, "", "merge", "--model", dir, "--adapter", filepath.Join(dir, "adapter"), "--out", out)
	if code != 0 {
		t.Fatalf("merge exited %d: %s", code, stderr)
	}
	// what it loaded, merged (with progress) and wrote
	for _, want := range []string{"loaded " + dir, "14 adapted matrices", "merging adapted matrices: 14/14", "writing " + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("merge's progress lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.HasPrefix(stdout, out+": ") {
		t.Errorf("merge printed %q, want a line about %s", stdout, out)
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
