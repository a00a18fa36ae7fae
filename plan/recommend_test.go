package plan

import (
	"math"
	"strings"
	"testing"
)

// llama1_65B is LLaMA-65B's architecture (the QLoRA paper's largest model).
const llama1_65B = `{"model_type":"llama","hidden_size":8192,"intermediate_size":22016,"num_hidden_layers":80,
"num_attention_heads":64,"vocab_size":32000,"tie_word_embeddings":false}`

// llama32_1B is Llama-3.2-1B's architecture: grouped-query attention, a
// 128k vocabulary and a tied head.
const llama32_1B = `{"model_type":"llama","hidden_size":2048,"intermediate_size":8192,"num_hidden_layers":16,
"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,"vocab_size":128256,"tie_word_embeddings":true,
"rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}`

func mustShape(t *testing.T, name, cfg string) Shape {
	t.Helper()
	sh, err := ParseShape(name, []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestQLoRA65BOn48GB: the QLoRA paper fine-tunes a 65B model on one 48 GB
// GPU (rank 64 on every projection); the estimate must say it fits, and
// must not be absurdly low (the NF4 weights alone are ~33.5 GB).
func TestQLoRA65BOn48GB(t *testing.T) {
	sh := mustShape(t, "llama-65b", llama1_65B)
	s := Setup{Technique: QLoRA, Seq: 512, MicroBatch: 1, Accum: 16, Checkpointing: true, Rank: 64, Targets: []string{"all-linear"}, Dropout: 0.05}
	// A "48 GB" card (RTX A6000, A40) has 48 GiB.
	got := float64(EstimateMemory(sh, Torch(1e14), s).Peak()) / (1 << 30)
	if got > 48 || got < 33.5 {
		t.Errorf("EstimateMemory(65B, qlora r64).Peak() = %.1f GiB, want 33.5..48 GiB", got)
	}
}

func TestCounts(t *testing.T) {
	sh := mustShape(t, "llama-3.2-1b", llama32_1B)
	if math.Abs(float64(sh.Params)-1.2355e9) > 1e6 {
		t.Errorf("Llama-3.2-1B Params = %d, want 1.2355e9", sh.Params)
	}
	cases := []struct {
		rank    int
		targets []string
		want    int64
	}{
		// r·(in+out)·layers: q 2048+2048, v 2048+512
		{8, []string{"q_proj", "v_proj"}, 8 * (4096 + 2560) * 16},
		{16, []string{"all-linear"}, 16 * 16 * ((2048 + 2048) + 2*(2048+512) + (2048 + 2048) + 2*(2048+8192) + (8192 + 2048))},
	}
	for _, c := range cases {
		if got := sh.LoRAParams(c.rank, c.targets); got != c.want {
			t.Errorf("LoRAParams(%d, %v) = %d, want %d", c.rank, c.targets, got, c.want)
		}
	}
	// PEFT reports 11,272,192 trainable parameters for r=16 on all linear
	// layers of Llama-3.2-1B.
	if got := sh.LoRAParams(16, []string{"all-linear"}); got != 11_272_192 {
		t.Errorf("LoRAParams(16, all-linear) = %d, want 11272192", got)
	}
}

func TestMemoryMonotone(t *testing.T) {
	sh := mustShape(t, "llama-3.2-1b", llama32_1B)
	for _, p := range []Profile{Torch(1e14), Hone(false, 1e11), Hone(true, 1e11)} {
		base := Setup{Technique: LoRA, Seq: 1024, MicroBatch: 4, Accum: 1, Rank: 16, Targets: []string{"all-linear"}}
		m := EstimateMemory(sh, p, base)
		ck := base
		ck.Checkpointing = true
		if c := EstimateMemory(sh, p, ck); c.Activations >= m.Activations {
			t.Errorf("%s: checkpointing activations %d >= %d without", p.Name, c.Activations, m.Activations)
		}
		long := base
		long.Seq *= 2
		if l := EstimateMemory(sh, p, long); l.Activations <= m.Activations {
			t.Errorf("%s: activations at seq 2048 %d <= at 1024 %d", p.Name, l.Activations, m.Activations)
		}
		q := base
		q.Technique = QLoRA
		f := base
		f.Technique = Full
		mq, mf := EstimateMemory(sh, p, q), EstimateMemory(sh, p, f)
		if !(mq.Peak() < m.Peak() && m.Peak() < mf.Peak()) {
			t.Errorf("%s: peaks qlora %d, lora %d, full %d: want increasing", p.Name, mq.Peak(), m.Peak(), mf.Peak())
		}
	}
}

func TestRecommend(t *testing.T) {
	sh7 := mustShape(t, "llama-2-7b", llama2_7B)
	sh1 := mustShape(t, "llama-3.2-1b", llama32_1B)
	gib := int64(1 << 30)
	cases := []struct {
		name     string
		sh       Shape
		memory   int64
		tokens   int64
		want     Technique
		wantCkpt bool
		reason   string
	}{
		{"7B on 24 GB", sh7, 24 * gib, 1e6, LoRA, false, "LoRA fits"},
		{"7B on 12 GB", sh7, 12 * gib, 1e6, QLoRA, false, "QLoRA fits"},
		{"7B on 80 GB, big data", sh7, 80 * gib, 1e9, LoRA, false, "full fine-tuning needs"},
		{"7B on 4 GB", sh7, 4 * gib, 1e6, "", true, "nothing fits"},
		{"1B on 80 GB, big data", sh1, 80 * gib, 1e8, Full, false, "full fine-tuning fits"},
		{"1B on 80 GB, small data", sh1, 80 * gib, 1e6, LoRA, false, "full fine-tuning also fits"},
	}
	for _, c := range cases {
		r := Request{Profile: Torch(1e14), Memory: c.memory, Seq: 2048, Batch: 8, EpochTokens: c.tokens, Rank: 16, Targets: []string{"all-linear"}}
		p, err := Recommend(c.sh, r)
		if err != nil {
			t.Fatal(err)
		}
		reasons := strings.Join(p.Reasons, "\n")
		if p.Choice != c.want || !strings.Contains(reasons, c.reason) {
			t.Errorf("%s: Recommend() = %q (%s), want %q with %q", c.name, p.Choice, reasons, c.want, c.reason)
		}
		if c.want != "" {
			e := p.Option(c.want)
			if !e.Fits || e.Memory.Peak() > c.memory || e.Setup.MicroBatch*e.Setup.Accum < 8 {
				t.Errorf("%s: chosen setup %+v peak %d: want it to fit %d with an effective batch of 8", c.name, e.Setup, e.Memory.Peak(), c.memory)
			}
		}
	}
}

// TestBestSetupOrder: the largest micro-batch that fits without
// checkpointing wins; checkpointing comes in only when micro-batch 1 does
// not fit without it.
func TestBestSetupOrder(t *testing.T) {
	sh := mustShape(t, "llama-2-7b", llama2_7B)
	p := Torch(1e14)
	mem := func(mb int, ck bool) int64 {
		return EstimateMemory(sh, p, Setup{Technique: QLoRA, Seq: 2048, MicroBatch: mb, Accum: 1, Checkpointing: ck, Rank: 16, Targets: []string{"all-linear"}}).Peak()
	}
	cases := []struct {
		budget int64
		mb     int
		ckpt   bool
	}{
		{mem(8, false), 8, false},
		{mem(4, false), 4, false},
		{mem(1, false), 1, false},
		{mem(1, false) - 1, 8, true},
		{mem(2, true), 2, true},
	}
	for _, c := range cases {
		e := bestSetup(sh, Request{Profile: p, Memory: c.budget, Seq: 2048, Batch: 8, Rank: 16, Targets: []string{"all-linear"}}, QLoRA)
		if e.Setup.MicroBatch != c.mb || e.Setup.Checkpointing != c.ckpt || e.Setup.MicroBatch*e.Setup.Accum != 8 {
			t.Errorf("bestSetup(budget %d) = mb %d ckpt %v accum %d, want mb %d ckpt %v", c.budget, e.Setup.MicroBatch, e.Setup.Checkpointing, e.Setup.Accum, c.mb, c.ckpt)
		}
	}
}

// TestEpochTime checks the FLOP count against the 6·N·tokens rule for full
// training of a model whose attention is negligible, and the relative costs.
func TestEpochTime(t *testing.T) {
	sh := mustShape(t, "llama-2-7b", llama2_7B)
	s := Setup{Technique: Full, Seq: 16, MicroBatch: 1, Accum: 1}
	got := FLOPsPerToken(sh, s)
	want := 6 * float64(sh.Params-sh.HeadParams()) // the embedding lookup is free
	if math.Abs(got-want)/want > 0.01 {
		t.Errorf("FLOPsPerToken(full, seq 16) = %.3g, want 6N = %.3g", got, want)
	}
	e := Evaluate(sh, Torch(1e14), s, 1e8, 0)
	if secs := e.EpochTime.Seconds(); math.Abs(secs-got*1e8/1e14) > 1 {
		t.Errorf("EpochTime = %.0f s, want %.0f s", secs, got*1e8/1e14)
	}
	l := s
	l.Technique, l.Rank, l.Targets = LoRA, 16, []string{"all-linear"}
	q := l
	q.Technique = QLoRA
	tl, tq := Evaluate(sh, Torch(1e14), l, 1e8, 0).EpochTime, Evaluate(sh, Torch(1e14), q, 1e8, 0).EpochTime
	if !(tl < e.EpochTime && tl < tq) {
		t.Errorf("epoch times full %v, lora %v, qlora %v: want lora fastest", e.EpochTime, tl, tq)
	}
	ck := l
	ck.Checkpointing = true
	if r := Evaluate(sh, Torch(1e14), ck, 1e8, 0).EpochTime.Seconds() / tl.Seconds(); math.Abs(r-1.5) > 0.01 {
		t.Errorf("LoRA checkpointing time ratio = %.3f, want 1.5 (3 passes over 2)", r)
	}
}

func TestRequestValidate(t *testing.T) {
	ok := Request{Profile: Torch(1e14), Memory: 1, Seq: 1, Batch: 1, Rank: 8, Targets: []string{"q_proj"}}
	bad := []func(*Request){
		func(r *Request) { r.Seq = 0 },
		func(r *Request) { r.Batch = -1 },
		func(r *Request) { r.Rank = 0 },
		func(r *Request) { r.Targets = []string{"lm_head"} },
		func(r *Request) { r.Dropout = 1 },
		func(r *Request) { r.Profile.FLOPS = 0 },
		func(r *Request) { r.Memory = -5 },
		func(r *Request) { r.Headroom = 1 },
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(ok) = %v", err)
	}
	for i, f := range bad {
		r := ok
		f(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("case %d: Validate(%+v) = nil, want an error", i, r)
		}
	}
}

func TestHeadroom(t *testing.T) {
	sh := mustShape(t, "llama-2-7b", llama2_7B)
	p := Torch(1e14)
	peak := EstimateMemory(sh, p, Setup{Technique: QLoRA, Seq: 2048, MicroBatch: 8, Accum: 1, Rank: 16, Targets: []string{"all-linear"}}).Peak()
	for _, c := range []struct {
		headroom float64
		mb       int
	}{{0, 8}, {0.05, 4}} {
		r := Request{Profile: p, Memory: peak, Seq: 2048, Batch: 8, Rank: 16, Targets: []string{"all-linear"}, Headroom: c.headroom}
		if e := bestSetup(sh, r, QLoRA); e.Setup.MicroBatch != c.mb {
			t.Errorf("bestSetup(budget = peak at mb 8, headroom %v) = mb %d, want %d", c.headroom, e.Setup.MicroBatch, c.mb)
		}
	}
}
