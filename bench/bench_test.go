package bench

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"hone/compute/cpu"
	"hone/model"
	"hone/tensor"
)

// TestShapes: every known shape parses to the architecture of its model,
// checked by the parameter count of its Hugging Face release.
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params int64
		layers int
		bias   bool
	}{
		{"smollm2-135m", 134515008, 30, false},
		{"qwen2.5-0.5b", 494032768, 24, true},
		{"llama-3.2-1b", 1235814400, 16, false},
	} {
		c, err := Shape(tc.name)
		if err != nil {
			t.Fatalf("Shape(%q) = %v", tc.name, err)
		}
		if got := c.NumParams(); got != tc.params || c.Layers != tc.layers || c.QKVBias != tc.bias || !c.TieEmbeddings {
			t.Errorf("Shape(%q) = %d params, %d layers, qkv bias %v, tied %v; want %d, %d, %v, true",
				tc.name, got, c.Layers, c.QKVBias, c.TieEmbeddings, tc.params, tc.layers, tc.bias)
		}
	}
	if got := len(Shapes()); got != 3 {
		t.Errorf("len(Shapes()) = %d, want 3", got)
	}
	if _, err := Shape("gpt-5"); err == nil || !strings.Contains(err.Error(), "smollm2-135m") {
		t.Errorf("Shape(gpt-5) = %v, want an error listing the known shapes", err)
	}
}

// tinyConfig is a small Llama for fast tests.
func tinyConfig() *model.Config {
	return &model.Config{
		ModelType: "llama", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
		Vocab: 50, MaxPositions: 64, RMSEps: 1e-5, TieEmbeddings: true, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
}

// TestRandomModel: matrices in the precision's dtype, uniform within the
// bound with the asked standard deviation; norms one; a tied head.
func TestRandomModel(t *testing.T) {
	c := tinyConfig()
	c.QKVBias = true
	for _, prec := range []model.Precision{model.FP32, model.BF16} {
		m := RandomModel(c, prec, 0.02, 7)
		if m.W.LMHead != m.W.Embed {
			t.Errorf("RandomModel(%v): LM head not tied to the embedding", prec)
		}
		for _, p := range m.W.Params(c) {
			w := *p.Ptr
			want := tensor.F32
			if len(p.Shape) == 2 && prec == model.BF16 {
				want = tensor.BF16
			}
			if w.DType != want {
				t.Errorf("RandomModel(%v) %s is %v, want %v", prec, p.Name, w.DType, want)
			}
			v := w.ToF32().F32()
			switch {
			case strings.HasSuffix(p.Name, "norm.weight"):
				for _, x := range v {
					if x != 1 {
						t.Fatalf("RandomModel(%v) %s has %g, want 1", prec, p.Name, x)
					}
				}
			case strings.HasSuffix(p.Name, ".bias"):
				for _, x := range v {
					if x != 0 {
						t.Fatalf("RandomModel(%v) %s has %g, want 0", prec, p.Name, x)
					}
				}
			default:
				var ss float64
				for _, x := range v {
					if math.Abs(float64(x)) > 0.02*math.Sqrt(3)*1.01 {
						t.Fatalf("RandomModel(%v) %s has %g, beyond the bound", prec, p.Name, x)
					}
					ss += float64(x) * float64(x)
				}
				if std := math.Sqrt(ss / float64(len(v))); math.Abs(std-0.02) > 0.004 {
					t.Errorf("RandomModel(%v) %s: std %g, want 0.02", prec, p.Name, std)
				}
			}
		}
	}
	a, b := RandomModel(c, model.FP32, 0.02, 7), RandomModel(c, model.FP32, 0.02, 7)
	if string(a.W.Layers[1].Down.W.Data) != string(b.W.Layers[1].Down.W.Data) {
		t.Errorf("RandomModel with the same seed gave different weights")
	}
}

// TestTrainFLOPs against a count by hand for the tiny model at seq 4:
// projections 32·(32+16+16) + 32·32 + 3·32·64 = 9216 weights, the head
// 50·32 = 1600; 4 tokens: 4·4·(2·9216+1600) = 320512; attention: 10 visible
// pairs · 8 · 4 heads · 2 products · 2 · 3 (fwd+bwd) · 2 layers = 7680;
// adapters r=2: in+out summed over the seven = 64+48+48+64+96+96+96 = 512,
// 6·4·2·2·512 = 49152.
func TestTrainFLOPs(t *testing.T) {
	if got, want := TrainFLOPs(tinyConfig(), 1, 4, 2), 320512.0+7680+49152; got != want {
		t.Errorf("TrainFLOPs(tiny, 1, 4, 2) = %g, want %g", got, want)
	}
	if got, want := TrainFLOPs(tinyConfig(), 3, 4, 2), 3*(320512.0+7680+49152); got != want {
		t.Errorf("TrainFLOPs(tiny, 3, 4, 2) = %g, want %g", got, want)
	}
}

// TestTrain runs the benchmark on the tiny model: the step count, a loss
// that falls on the fixed batch, consistent rates, adapters detached.
func TestTrain(t *testing.T) {
	e := cpu.New(2)
	defer e.Close()
	for _, prec := range []model.Precision{model.FP32, model.BF16} {
		for _, ckpt := range []bool{false, true} {
			m := RandomModel(tinyConfig(), prec, 0.3, 1)
			o := TrainOptions{Seq: 16, Batch: 2, Rank: 4, Alpha: 8, Steps: 4, Warmup: 1, Checkpoint: ckpt, Seed: 3}
			var reports int
			res, err := Train(e, m, o, func(StepReport) { reports++ })
			name := "Train(" + prec.String() + ", checkpoint=" + map[bool]string{false: "false", true: "true"}[ckpt] + ")"
			if err != nil {
				t.Fatalf("%s = %v", name, err)
			}
			if len(res.Times) != 4 || reports != 5 {
				t.Errorf("%s: %d timed steps, %d reports, want 4 and 5", name, len(res.Times), reports)
			}
			if !(res.LastLoss < res.FirstLoss) {
				t.Errorf("%s: loss %g then %g, want it to fall", name, res.FirstLoss, res.LastLoss)
			}
			if tps := float64(32) / res.Median.Seconds(); math.Abs(tps-res.TokensPerSec) > 1e-6*tps {
				t.Errorf("%s: %g tokens/s for a median step of %v", name, res.TokensPerSec, res.Median)
			}
			if res.TrainableParams != int64(2*4*(64+48+48+64+96+96+96)) {
				t.Errorf("%s: %d trainable parameters, want %d", name, res.TrainableParams, 2*4*512)
			}
			if m.W.Layers[0].Q.Adapter != nil {
				t.Errorf("%s left adapters attached", name)
			}
		}
	}
	m := RandomModel(tinyConfig(), model.FP32, 0.02, 1)
	for _, o := range []TrainOptions{{Seq: 0, Batch: 1, Rank: 1, Alpha: 1, Steps: 1}, {Seq: 4, Batch: 1, Rank: 0, Alpha: 1, Steps: 1},
		{Seq: 4, Batch: 1, Rank: 1, Alpha: 1, Steps: 0}, {Seq: 65, Batch: 1, Rank: 1, Alpha: 1, Steps: 1}} {
		if _, err := Train(e, m, o, nil); err == nil {
			t.Errorf("Train(%+v) = nil error, want one", o)
		}
	}
}

// TestGenerate runs the benchmark on the tiny model: one time per token,
// the bytes of every projection and the head, limits consistent.
func TestGenerate(t *testing.T) {
	e := cpu.New(2)
	defer e.Close()
	c := tinyConfig()
	m := RandomModel(c, model.BF16, 0.02, 1)
	one := cpu.New(1)
	defer one.Close()
	res, err := Generate(e, m, GenerateOptions{Prompt: 5, Tokens: 7, Seed: 1, OneThread: one})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OneThread) != 7 || res.OneThreadMedian <= 0 ||
		math.Abs(res.OneThreadGBs-float64(res.StreamBytes)/res.OneThreadMedian.Seconds()/1e9) > 1e-9*res.OneThreadGBs {
		t.Errorf("Generate: %d one-thread times, median %v, %g GB/s", len(res.OneThread), res.OneThreadMedian, res.OneThreadGBs)
	}
	if len(res.Decode) != 7 || len(res.Stream) != 7 {
		t.Errorf("Generate: %d decode and %d stream times, want 7", len(res.Decode), len(res.Stream))
	}
	if want := int64(2 * (c.Layers*(32*32+16*32+16*32+32*32+3*32*64) + 50*32)); res.StreamBytes != want {
		t.Errorf("Generate: StreamBytes %d, want %d", res.StreamBytes, want)
	}
	if r := res.TokensPerSec / res.LimitTokensPerSec; math.Abs(r-res.OfLimit) > 1e-9 || res.BandwidthGBs <= 0 {
		t.Errorf("Generate: OfLimit %g, want %g; bandwidth %g", res.OfLimit, r, res.BandwidthGBs)
	}
	if len(res.Paired) != 7 || !(res.PairedLow <= res.PairedMedian && res.PairedMedian <= res.PairedHigh) {
		t.Errorf("Generate: paired ratios %v, median %g, quartiles %g-%g", res.Paired, res.PairedMedian, res.PairedLow, res.PairedHigh)
	}
	for i, x := range res.Paired {
		if want := res.Stream[i].Seconds() / res.Decode[i].Seconds(); x != want {
			t.Errorf("Generate: paired ratio %d = %g, want %g", i, x, want)
		}
	}
	// the tokens attend to 6..12 positions, 9 on average, of 16 keys and
	// 16 values a layer, bf16
	if want := int64(c.Layers * 2 * 16 * 2 * 9); res.CacheBytes != want {
		t.Errorf("Generate: CacheBytes %d, want %d", res.CacheBytes, want)
	}
	lim := res.BandwidthGBs * 1e9 / float64(res.StreamBytes+res.CacheBytes)
	if math.Abs(res.CacheLimitTokensPerSec-lim) > 1e-9*lim || math.Abs(res.OfCacheLimit-res.TokensPerSec/lim) > 1e-9 {
		t.Errorf("Generate: cache limit %g (%g of it), want %g (%g)", res.CacheLimitTokensPerSec, res.OfCacheLimit, lim, res.TokensPerSec/lim)
	}
	if _, err := Generate(e, m, GenerateOptions{Prompt: 60, Tokens: 10}); err == nil {
		t.Errorf("Generate past the model's context = nil error")
	}
	if _, err := Generate(e, m, GenerateOptions{Prompt: 0, Tokens: 10}); err == nil {
		t.Errorf("Generate with no prompt = nil error")
	}
}

// TestRoundTrip: a round trip between two threads takes some nanoseconds
// (far less than the second it may take), and one that cannot finish
// reports so within its limit.
func TestRoundTrip(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		if _, ok := RoundTrip(); ok {
			t.Errorf("RoundTrip on one CPU reported a time")
		}
		t.Skip("one CPU: no two threads to pass a cache line between")
	}
	d, ok := RoundTrip()
	if !ok || d <= 0 || d > 100*time.Microsecond {
		t.Errorf("RoundTrip() = %v, %v; want a positive time well under 100 µs", d, ok)
	}
	t0 := time.Now()
	if _, ok := roundTrip(1<<40, 20*time.Millisecond); ok {
		t.Errorf("roundTrip of 2^40 rounds within 20 ms reported success")
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("roundTrip with a 20 ms limit took %v", el)
	}
}

// TestProducts: the distinct products of a layer and the head.
func TestProducts(t *testing.T) {
	c, _ := Shape("smollm2-135m")
	got := Products(c, 256)
	want := [][3]int{{256, 576, 576}, {256, 576, 192}, {256, 576, 1536}, {256, 1536, 576}, {256, 576, 49152}}
	if len(got) != len(want) {
		t.Fatalf("Products(smollm2-135m, 256) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Products(smollm2-135m, 256)[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// benchTrain times LoRA training steps at the SmolLM2-135M shape (seq 256,
// batch 1, r8 alpha16 on all seven projections, AdamW), the issue's
// benchmark: go test -bench TrainStep -benchtime 5x ./bench/
func benchTrain(b *testing.B, prec model.Precision, checkpoint bool) {
	c, err := Shape("smollm2-135m")
	if err != nil {
		b.Fatal(err)
	}
	m := RandomModel(c, prec, 0.02, 1)
	e := cpu.New(0)
	defer e.Close()
	o := TrainOptions{Seq: 256, Batch: 1, Rank: 8, Alpha: 16, Steps: b.N, Warmup: 1, Checkpoint: checkpoint, Seed: 1}
	b.ResetTimer()
	res, err := Train(e, m, o, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.TokensPerSec, "tokens/s")
	b.ReportMetric(res.GFLOPS, "GFLOP/s")
	if rss, ok := PeakRSS(); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

func BenchmarkTrainStep135MFP32(b *testing.B)     { benchTrain(b, model.FP32, false) }
func BenchmarkTrainStep135MBF16(b *testing.B)     { benchTrain(b, model.BF16, false) }
func BenchmarkTrainStep135MBF16Ckpt(b *testing.B) { benchTrain(b, model.BF16, true) }

// BenchmarkDecode135MBF16 decodes at the SmolLM2-135M shape with bf16
// weights and reports the speed against the bandwidth limit.
func BenchmarkDecode135MBF16(b *testing.B) {
	m, e := bf16Model135M(b)
	b.ResetTimer()
	res, err := Generate(e, m, GenerateOptions{Prompt: 16, Tokens: max(b.N, 8), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.TokensPerSec, "tokens/s")
	b.ReportMetric(res.LimitTokensPerSec, "limit-tokens/s")
	b.ReportMetric(res.BandwidthGBs, "GB/s")
	b.ReportMetric(100*res.OfLimit, "%-of-limit")
}

// BenchmarkPrefill135MBF16 prefills a 1024-token prompt at the SmolLM2-135M
// shape with bf16 weights (the bf16 cache filled, the last position's
// logits computed), one prompt an iteration, and reports prompt tokens a
// second.
func BenchmarkPrefill135MBF16(b *testing.B) {
	const prompt = 1024
	m, e := bf16Model135M(b)
	c := m.Config
	ids := make([]int32, prompt)
	for i := range ids {
		ids[i] = int32(i * 7919 % c.Vocab)
	}
	logits := tensor.New(m.ActType(), 1, c.Vocab)
	kc := m.NewCache(prompt)
	b.ResetTimer()
	for b.Loop() {
		kc.Truncate(0)
		if err := m.Decode(e, kc, ids, logits); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(prompt*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// bf16Model135M returns a SmolLM2-135M-shaped model with random bf16
// weights and an engine on every core, closed when b ends.
func bf16Model135M(b *testing.B) (*model.Model, *cpu.Engine) {
	c, err := Shape("smollm2-135m")
	if err != nil {
		b.Fatal(err)
	}
	e := cpu.New(0)
	b.Cleanup(e.Close)
	return RandomModel(c, model.BF16, 0.02, 1), e
}
