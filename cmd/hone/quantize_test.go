package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"hone/compute/ref"
	"hone/internal/shared"
	"hone/model"
)

// TestQuantizeFormats quantises a golden model to every format, loads the
// folder back and compares its logits with the original's: the error must
// be small and ordered by the formats' precision.
func TestQuantizeFormats(t *testing.T) {
	// widths that are whole ggml blocks (64, 128)
	dir := shared.Path(t, "golden", "llama3-rope-scaled")
	base, closeBase, err := model.Load(dir, model.FP32)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBase()
	b := &model.Batch{B: 1, T: 8, IDs: []int32{1, 17, 42, 99, 5, 250, 3, 77}}
	want, _ := base.Logits(ref.Engine{}, b)
	var maxLogit float64
	for _, v := range want.F32() {
		maxLogit = math.Max(maxLogit, math.Abs(float64(v)))
	}
	// relative to the logit range; measured errors are well inside
	tol := map[string]float64{"int8": 0.02, "q8_0": 0.02, "nf4": 0.15, "q4_0": 0.15}
	for _, f := range []string{"int8", "q8_0", "nf4", "q4_0"} {
		t.Run(f, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), f)
			_, stderr, code := hone(t, "", "quantize", "--model", dir, "--format", f, "--out", out)
			if code != 0 {
				t.Fatalf("quantize: %s", stderr)
			}
			for _, want := range []string{"loaded " + dir, "quantizing layers: 1/2", "quantizing layers: 2/2", "writing " + out} {
				if !strings.Contains(stderr, want) {
					t.Errorf("quantize's progress lacks %q:\n%s", want, stderr)
				}
			}
			m, closeModel, err := model.Load(out, model.FP32)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModel()
			if m.Config.Quant == nil || m.Config.Quant.Format != f || m.W.Layers[0].Q.Q == nil {
				t.Fatalf("the loaded folder is not %s-quantised", f)
			}
			got, _ := m.Logits(ref.Engine{}, b)
			var d float64
			for i, v := range want.F32() {
				d = math.Max(d, math.Abs(float64(v-got.F32()[i])))
			}
			t.Logf("%s: max logit error %.4f (%.2f%% of the logit range)", f, d, 100*d/maxLogit)
			if d == 0 || d > tol[f]*maxLogit {
				t.Errorf("%s logits differ by %.4g, want 0 < diff <= %.3g", f, d, tol[f]*maxLogit)
			}
		})
	}
	if _, _, code := hone(t, "", "quantize", "--model", dir, "--format", "q3_k", "--out", filepath.Join(t.TempDir(), "x")); code != 2 {
		t.Errorf("an unknown format exited %d, want 2", code)
	}
}
