package model_test

import (
	"math"
	"path/filepath"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/internal/shared"
	"hone/model"
	"hone/safetensors"
	"hone/tensor"
)

// goldenDirs returns every model folder under the golden root
// ($HONE_GOLDEN_DIR or ../shared/golden), skipping when there is none.
func goldenDirs(t *testing.T) []string {
	return shared.Folders(t, "golden.safetensors", "HONE_GOLDEN_DIR", "golden")
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

// goldenRun is one engine and precision the golden tests run under, with
// the tolerances that precision meets. bf16 rounds every weight and matrix
// operand to 8 significant bits (relative error up to 2^-9), so its logits
// are compared with a tolerance scaled to the logits' range, and greedy
// generation is not required to match token for token.
type goldenRun struct {
	name     string
	engine   compute.Engine
	prec     model.Precision
	logitTol float64 // absolute, or relative to max |logit| when relTol
	relTol   bool
	lossTol  float64
	greedy   bool
}

func goldenRuns() []goldenRun {
	return []goldenRun{
		{"ref-fp32", ref.Engine{}, model.FP32, 1e-4, false, 1e-5, true},
		{"cpu-fp32", cpu.New(2), model.FP32, 1e-4, false, 1e-5, true},
		{"cpu-bf16", cpu.New(2), model.BF16, 1e-2, true, 1e-2, false},
	}
}

// TestGolden checks the base model's logits, loss and greedy generation
// against transformers for every golden model folder, on the reference
// engine and on the fast CPU engine in fp32 and bf16.
func TestGolden(t *testing.T) {
	for _, run := range goldenRuns() {
		for _, dir := range goldenDirs(t) {
			t.Run(run.name+"/"+filepath.Base(dir), func(t *testing.T) { goldenCheck(t, run, dir) })
		}
	}
}

func goldenCheck(t *testing.T, run goldenRun, dir string) {
	{
		{
			m, closeModel, err := model.Load(dir, run.prec)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModel()
			g, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			e := run.engine
			in := goldenTensor(t, g, "input_ids")
			b := &model.Batch{B: in.Shape[0], T: in.Shape[1], IDs: ids32(in)}
			logits, err := m.Logits(e, b)
			if err != nil {
				t.Fatal(err)
			}
			want := goldenTensor(t, g, "logits_base").F32()
			tol := run.logitTol
			if run.relTol {
				tol *= maxAbs(want)
			}
			d := maxAbsDiff(logits.F32(), want)
			t.Logf("logits max abs diff %.3g (max logit %.3g)", d, maxAbs(want))
			if d > tol {
				t.Errorf("logits: max abs diff %.3g, want <= %.3g", d, tol)
			}
			// the same logits from a prefill through the KV cache (in bf16
			// a bf16 cache, whose attention takes bf16 products), sequence
			// by sequence
			V := m.Config.Vocab
			for bi := 0; bi < b.B; bi++ {
				cache := m.NewCache(b.T)
				out := tensor.New(tensor.F32, b.T, V)
				if err := m.Decode(e, cache, b.IDs[bi*b.T:(bi+1)*b.T], out); err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(out.F32(), want[bi*b.T*V:(bi+1)*b.T*V])
				t.Logf("prefill of sequence %d: logits max abs diff %.3g", bi, d)
				if d > tol {
					t.Errorf("prefill of sequence %d: logits max abs diff %.3g, want <= %.3g", bi, d, tol)
				}
			}
			// and token by token, as decoding computes them (one query
			// over the cache: in bf16 its own kernels' bf16 products)
			for bi := 0; bi < b.B; bi++ {
				cache := m.NewCache(b.T)
				one := tensor.New(tensor.F32, 1, V)
				var d float64
				for i := 0; i < b.T; i++ {
					if err := m.Decode(e, cache, b.IDs[bi*b.T+i:bi*b.T+i+1], one); err != nil {
						t.Fatal(err)
					}
					d = max(d, maxAbsDiff(one.F32(), want[(bi*b.T+i)*V:(bi*b.T+i+1)*V]))
				}
				t.Logf("decoding of sequence %d: logits max abs diff %.3g", bi, d)
				if d > tol {
					t.Errorf("decoding of sequence %d: logits max abs diff %.3g, want <= %.3g", bi, d, tol)
				}
			}
			// the loss as transformers computes it
			b.Labels = ids32(goldenTensor(t, g, "labels"))
			a := m.NewActivations(b.B, b.T, false)
			m.Forward(e, b, a, false)
			sum, n := m.Loss(e, b, a, nil, 0, false)
			wantLoss := float64(goldenTensor(t, g, "loss_base").F32()[0])
			if got := sum / float64(n); math.Abs(got-wantLoss) > run.lossTol {
				t.Errorf("loss = %.7f, want %.7f", got, wantLoss)
			}
			if !run.greedy {
				return
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
		}
	}
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
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
