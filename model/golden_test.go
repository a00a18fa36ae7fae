package model_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/internal/shared"
	"hone/model"
	"hone/safetensors"
	"hone/tensor"
)

// goldenDirs returns every model folder under the golden root
// ($HONE_GOLDEN_DIR or ../shared/golden), skipping when there is none.
func goldenDirs(t *testing.T) []string {
	root := shared.Env(t, "HONE_GOLDEN_DIR", "golden")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "golden.safetensors")); err == nil {
				dirs = append(dirs, filepath.Join(root, e.Name()))
			}
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("%s holds no model folder with a golden.safetensors", root)
	}
	return dirs
}

func goldenTensor(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatalf("golden.safetensors: %v", err)
	}
	return x
}

func ids32(x *tensor.Tensor) []int32 {
	v := x.Int64s()
	out := make([]int32, len(v))
	for i, a := range v {
		out[i] = int32(a)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestGolden checks the base model's logits and greedy generation against
// transformers for every golden model folder.
func TestGolden(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, closeModel, err := model.Load(dir, model.FP32)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModel()
			g, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var e compute.Engine = ref.Engine{}
			in := goldenTensor(t, g, "input_ids")
			b := &model.Batch{B: in.Shape[0], T: in.Shape[1], IDs: ids32(in)}
			logits, err := m.Logits(e, b)
			if err != nil {
				t.Fatal(err)
			}
			want := goldenTensor(t, g, "logits_base").F32()
			if d := maxAbsDiff(logits.F32(), want); d > 1e-4 {
				t.Errorf("logits: max abs diff %.3g, want <= 1e-4", d)
			}
			// the loss as transformers computes it
			b.Labels = ids32(goldenTensor(t, g, "labels"))
			a := m.NewActivations(b.B, b.T, false)
			m.Forward(e, b, a, false)
			sum, n := m.Loss(e, b, a, nil, 0, false)
			wantLoss := float64(goldenTensor(t, g, "loss_base").F32()[0])
			if got := sum / float64(n); math.Abs(got-wantLoss) > 1e-5 {
				t.Errorf("loss = %.7f, want %.7f", got, wantLoss)
			}
			// greedy generation, token by token through the KV cache
			prompt := ids32(goldenTensor(t, g, "greedy_prompt"))
			wantIDs := ids32(goldenTensor(t, g, "greedy_ids"))
			cache := m.NewCache(len(wantIDs))
			out := tensor.New(tensor.F32, 1, m.Config.Vocab)
			seq := append([]int32(nil), prompt...)
			if err := m.Decode(e, cache, prompt, out); err != nil {
				t.Fatal(err)
			}
			for len(seq) < len(wantIDs) {
				next := argmax(out.F32())
				seq = append(seq, next)
				if err := m.Decode(e, cache, []int32{next}, out); err != nil {
					t.Fatal(err)
				}
			}
			for i := range wantIDs {
				if seq[i] != wantIDs[i] {
					t.Fatalf("greedy ids = %v, want %v", seq, wantIDs)
				}
			}
		})
	}
}

func argmax(v []float32) int32 {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return int32(best)
}
