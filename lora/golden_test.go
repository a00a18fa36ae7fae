package lora_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/internal/shared"
	"hone/lora"
	"hone/model"
	"hone/safetensors"
	"hone/tensor"
)

func goldenDirs(t *testing.T) []string {
	return shared.Folders(t, "golden.safetensors", "HONE_GOLDEN_DIR", "golden")
}

func ids32(x *tensor.Tensor) []int32 {
	var out []int32
	for _, v := range x.Int64s() {
		out = append(out, int32(v))
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

func relL2(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / math.Max(den, 1e-300))
}

// goldenRun is one golden model loaded at a precision with PEFT's adapter
// attached (its gradients enabled), the golden tensors and the batch.
type goldenRun struct {
	m     *model.Model
	set   *lora.Set
	get   func(name string) *tensor.Tensor
	names []string // of the golden tensors
	b     *model.Batch
}

// loadGolden loads dir's model at prec with its adapter, closing both when
// t ends.
func loadGolden(t *testing.T, dir string, prec model.Precision) goldenRun {
	m, closeModel, err := model.Load(dir, prec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeModel() })
	set, err := lora.Load(filepath.Join(dir, "adapter"), m)
	if err != nil {
		t.Fatal(err)
	}
	set.EnableGrads()
	g, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	get := func(name string) *tensor.Tensor {
		x, err := g.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	in := get("input_ids")
	b := &model.Batch{B: in.Shape[0], T: in.Shape[1], IDs: ids32(in), Labels: ids32(get("labels"))}
	return goldenRun{m, set, get, g.Names(), b}
}

// lossAndGrads runs the forward, the mean loss and the backward on e,
// leaving the adapters' gradients in place, and returns the loss.
func (r goldenRun) lossAndGrads(e compute.Engine) float64 {
	a := r.m.NewActivations(r.b.B, r.b.T, false)
	r.m.Forward(e, r.b, a, true)
	// the loss is a mean: count first, then scale the gradient by 1/n
	_, n := r.m.Loss(e, r.b, a, nil, 0, false)
	sum, _ := r.m.Loss(e, r.b, a, nil, float32(1/float64(n)), true)
	r.m.Backward(e, r.b, a, nil)
	return sum / float64(n)
}

// TestGoldenLoRA checks, for every golden model, PEFT's adapter applied by
// hone: logits, loss, the gradient of every LoRA tensor, and the merge.
func TestGoldenLoRA(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			e := ref.Engine{}
			r := loadGolden(t, dir, model.FP32)
			m, set, get, b := r.m, r.set, r.get, r.b

			logits, err := m.Logits(e, b)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(logits.F32(), get("logits_lora").F32()); d > 1e-4 {
				t.Errorf("logits with adapter: max abs diff %.3g, want <= 1e-4", d)
			}

			if got, want := r.lossAndGrads(e), float64(get("loss_lora").F32()[0]); math.Abs(got-want) > 1e-5 {
				t.Errorf("loss with adapter = %.7f, want %.7f", got, want)
			}
			checked := 0
			for _, p := range set.Params() {
				// saved key base_model.model.X.lora_A.weight -> in-memory X.lora_A.default.weight
				name := "grad." + strings.TrimSuffix(p.Name, ".weight") + ".default.weight"
				want := get(name)
				if e := relL2(p.Grad.F32(), want.F32()); e > 1e-4 {
					t.Errorf("%s: relative L2 error %.3g, want <= 1e-4", name, e)
				}
				checked++
			}
			var nGrads int
			for _, name := range r.names {
				if strings.HasPrefix(name, "grad.") {
					nGrads++
				}
			}
			if checked != nGrads {
				t.Errorf("checked %d gradients, golden file has %d", checked, nGrads)
			}

			merged := model.New(m.Config, set.Merge(m))
			ml, err := merged.Logits(e, b)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(ml.F32(), get("logits_merged").F32()); d > 1e-4 {
				t.Errorf("merged logits: max abs diff %.3g, want <= 1e-4", d)
			}
		})
	}
}

// TestGoldenLoRABF16 checks the bf16 mode's training against PEFT's
// (float32) gradients on every golden model: the CPU engine with bf16
// weights, every product taking bf16 operands with float32 sums (the
// attention's too). bf16 rounds each operand by up to 2^-8 of itself, so
// the loss is held to 1e-2 and each LoRA gradient to a relative L2 error
// of 3e-2 (measured on the four golden models: the loss within 1.1e-4,
// the largest gradient error 7.8e-3 to 1.0e-2, against 6.6e-3 to 8.6e-3
// with the attention in float32).
func TestGoldenLoRABF16(t *testing.T) {
	e := cpu.New(2)
	defer e.Close()
	if !e.BF16Native() {
		t.Skip("no bf16 products on this CPU: the bf16 mode widens its weights")
	}
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := loadGolden(t, dir, model.BF16)
			loss, want := r.lossAndGrads(e), float64(r.get("loss_lora").F32()[0])
			if math.Abs(loss-want) > 1e-2 {
				t.Errorf("loss with adapter = %.7f, want %.7f", loss, want)
			}
			worst := 0.0
			for _, p := range r.set.Params() {
				name := "grad." + strings.TrimSuffix(p.Name, ".weight") + ".default.weight"
				e := relL2(p.Grad.F32(), r.get(name).F32())
				worst = math.Max(worst, e)
				if e > 3e-2 {
					t.Errorf("%s: relative L2 error %.3g, want <= 3e-2", name, e)
				}
			}
			t.Logf("loss %.6f (PEFT %.6f); largest relative L2 error of a gradient %.3g", loss, want, worst)
		})
	}
}
