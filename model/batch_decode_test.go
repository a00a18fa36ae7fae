package model

import (
	"math"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/internal/race"
	"hone/tensor"
)

// TestBatchDecodeMatchesDecode: sequences of different lengths decoded one
// token at a time together give the logits of decoding each alone, with
// float32 weights and with bf16 ones (whose cache is bf16).
func TestBatchDecodeMatchesDecode(t *testing.T) {
	for _, variant := range []struct{ qk, bf bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		qk := variant.qk
		c := &Config{
			ModelType: "llama", Hidden: 32, Intermediate: 48, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
			Vocab: 50, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1, QKNorm: qk,
			Rope: Rope{Theta: 10000, Type: "default", Factor: 1},
		}
		w := Init(c, 0.3, 5)
		if variant.bf {
			for _, name := range c.LinearNames() {
				l := w.LinearByName(name)
				l.W = l.W.To(tensor.BF16)
			}
		}
		m := New(c, w)
		if want := map[bool]tensor.DType{false: tensor.F32, true: tensor.BF16}[variant.bf]; m.CacheType() != want {
			t.Fatalf("bf16 weights %v: cache type %v, want %v", variant.bf, m.CacheType(), want)
		}
		prompts := [][]int32{{1, 5, 9}, {1}, {1, 7, 3, 3, 8, 11}}
		steps := [][]int32{{4, 6, 7}, {12, 13, 14}, {20, 21, 22}}
		n := len(prompts)
		// alone
		want := make([][][]float32, n)
		for i, p := range prompts {
			kc := m.NewCache(16)
			lg := tensor.New(tensor.F32, 1, c.Vocab)
			if err := m.Decode(ref.Engine{}, kc, p, lg); err != nil {
				t.Fatal(err)
			}
			for _, id := range steps[i] {
				if err := m.Decode(ref.Engine{}, kc, []int32{id}, lg); err != nil {
					t.Fatal(err)
				}
				want[i] = append(want[i], append([]float32(nil), lg.F32()...))
			}
		}
		// together
		caches := make([]*Cache, n)
		lg := tensor.New(tensor.F32, 1, c.Vocab)
		for i, p := range prompts {
			caches[i] = m.NewCache(16)
			if err := m.Decode(ref.Engine{}, caches[i], p, lg); err != nil {
				t.Fatal(err)
			}
		}
		bd := m.NewBatchDecoder()
		blg := tensor.New(tensor.F32, n, c.Vocab)
		for s := 0; s < 3; s++ {
			ids := []int32{steps[0][s], steps[1][s], steps[2][s]}
			var e compute.Engine = ref.Engine{}
			if s == 2 && !variant.bf {
				e = cpu.New(2) // the fast engine continues the same caches
			}
			if err := bd.Decode(e, caches, ids, blg); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				got := blg.F32()[i*c.Vocab : (i+1)*c.Vocab]
				var d float64
				for j := range got {
					d = math.Max(d, math.Abs(float64(got[j]-want[i][s][j])))
				}
				if d > 1e-4 {
					t.Errorf("qknorm %v bf16 %v step %d sequence %d: batched logits differ from alone by %g", qk, variant.bf, s, i, d)
				}
			}
		}
		for i, kc := range caches {
			if kc.Len != len(prompts[i])+3 {
				t.Errorf("cache %d holds %d positions, want %d", i, kc.Len, len(prompts[i])+3)
			}
		}
		// errors: shared cache, wrong logits shape, full cache
		if err := bd.Decode(ref.Engine{}, []*Cache{caches[0], caches[0]}, []int32{1, 1}, tensor.New(tensor.F32, 2, c.Vocab)); err == nil {
			t.Error("a cache shared by two sequences was accepted")
		}
		if err := bd.Decode(ref.Engine{}, caches[:1], []int32{1}, blg); err == nil {
			t.Error("logits of the wrong shape were accepted")
		}
		full := m.NewCache(1)
		full.Len = 1
		if err := bd.Decode(ref.Engine{}, []*Cache{full}, []int32{1}, tensor.New(tensor.F32, 1, c.Vocab)); err == nil {
			t.Error("a full cache was accepted")
		}
	}
}

// TestBF16Cache: a bf16 model keeps its cache in bf16, and the keys and
// values stored there are those of a float32 cache rounded: exactly so in
// the first layer, whose keys and values do not depend on attention.
func TestBF16Cache(t *testing.T) {
	c, m := bf16Llama(32, 48, 2, 8, 50, 0.3, 7)
	ids := []int32{1, 5, 9, 4, 4, 30}
	k16 := m.NewCache(16)
	k32 := m.NewCache(16)
	for l := range k32.K {
		if k16.K[l].DType != tensor.BF16 || k16.V[l].DType != tensor.BF16 {
			t.Fatalf("layer %d: cache %v, want bf16", l, k16.K[l])
		}
		k32.K[l] = tensor.New(tensor.F32, k32.K[l].Shape...)
		k32.V[l] = tensor.New(tensor.F32, k32.V[l].Shape...)
	}
	lg16, lg32 := tensor.New(tensor.F32, 1, c.Vocab), tensor.New(tensor.F32, 1, c.Vocab)
	for i, id := range ids {
		// the prompt's first three at once, then one at a time
		if i == 1 || i == 2 {
			continue
		}
		step := []int32{id}
		if i == 0 {
			step = ids[:3]
		}
		if err := m.Decode(ref.Engine{}, k16, step, lg16); err != nil {
			t.Fatal(err)
		}
		if err := m.Decode(ref.Engine{}, k32, step, lg32); err != nil {
			t.Fatal(err)
		}
	}
	for _, pair := range [][2]*tensor.Tensor{{k16.K[0], k32.K[0]}, {k16.V[0], k32.V[0]}} {
		got, want := pair[0].BF16(), pair[1].F32()
		for i := 0; i < k16.Len*c.KVDim(); i++ {
			if got[i] != tensor.F32ToBF16(want[i]) {
				t.Fatalf("layer 0 cache element %d: %#04x, want bf16(%g) = %#04x", i, got[i], want[i], tensor.F32ToBF16(want[i]))
			}
		}
	}
	var d, top float64
	for j, v := range lg32.F32() {
		d = math.Max(d, math.Abs(float64(lg16.F32()[j]-v)))
		top = math.Max(top, math.Abs(float64(v)))
	}
	if d > 1e-2*top {
		t.Errorf("logits with a bf16 cache differ from a float32 cache's by %g (largest %g)", d, top)
	}
}

// TestBatchDecodeBF16CPU: on the CPU engine, with bf16 weights (bf16
// products and cache), sequences decoded together give the logits of
// decoding each alone.
func TestBatchDecodeBF16CPU(t *testing.T) {
	c, m := bf16Llama(64, 96, 2, 16, 50, 0.3, 9)
	e := cpu.New(2)
	defer e.Close()
	prompts := [][]int32{{1, 5, 9}, {1}, {1, 7, 3, 3, 8, 11, 4, 4, 4, 40}}
	steps := []int32{4, 6, 7}
	alone := make([][][]float32, len(prompts))
	for i, p := range prompts {
		kc := m.NewCache(32)
		lg := tensor.New(tensor.F32, 1, c.Vocab)
		if err := m.Decode(e, kc, p, lg); err != nil {
			t.Fatal(err)
		}
		for _, id := range steps {
			if err := m.Decode(e, kc, []int32{id}, lg); err != nil {
				t.Fatal(err)
			}
			alone[i] = append(alone[i], append([]float32(nil), lg.F32()...))
		}
	}
	caches := make([]*Cache, len(prompts))
	lg := tensor.New(tensor.F32, 1, c.Vocab)
	for i, p := range prompts {
		caches[i] = m.NewCache(32)
		if err := m.Decode(e, caches[i], p, lg); err != nil {
			t.Fatal(err)
		}
	}
	bd := m.NewBatchDecoder()
	blg := tensor.New(tensor.F32, len(prompts), c.Vocab)
	for s, id := range steps {
		if err := bd.Decode(e, caches, []int32{id, id, id}, blg); err != nil {
			t.Fatal(err)
		}
		for i := range prompts {
			got := blg.F32()[i*c.Vocab : (i+1)*c.Vocab]
			for j, v := range alone[i][s] {
				if d := math.Abs(float64(got[j] - v)); d > 1e-4*(1+math.Abs(float64(v))) {
					t.Fatalf("step %d sequence %d logit %d: batched %v, alone %v", s, i, j, got[j], v)
				}
			}
		}
	}
}

// hideReadAhead is an engine that reads nothing ahead: no weights, no
// cache rows.
type hideReadAhead struct{ *cpu.Engine }

func (hideReadAhead) ReadAhead(bool, ...*tensor.Tensor)     {}
func (hideReadAhead) ReadAheadThen(bool, ...*tensor.Tensor) {}
func (h hideReadAhead) AttentionAhead(out, q, k, v *tensor.Tensor, s compute.AttnShape, _, _ *tensor.Tensor) {
	h.Engine.Attention(out, q, k, v, nil, s)
}

// TestDecodeReadAhead: announcing each pass's successor (and, before the
// attention, the pass after it) to the CPU engine (whose worker then reads
// ahead where its region of each pass begins), and each attention reading
// the next layer's cache rows ahead, leaves the logits bit for bit as they
// are without, at a size whose passes run on both threads, alone and
// batched.
func TestDecodeReadAhead(t *testing.T) {
	c, m := bf16Llama(256, 512, 3, 64, 1000, 0.1, 3)
	e := cpu.New(2)
	defer e.Close()
	var _ compute.ReadAheader = e
	var _ compute.ReadAheadThener = e
	var _ compute.AttentionAheader = e
	run := func(e compute.Engine) [][]float32 {
		var out [][]float32
		kcs := []*Cache{m.NewCache(16), m.NewCache(16)}
		lg := tensor.New(tensor.F32, 1, c.Vocab)
		for _, kc := range kcs {
			if err := m.Decode(e, kc, []int32{1, 5, 9}, lg); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []int32{4, 6, 7, 8} {
			if err := m.Decode(e, kcs[0], []int32{id}, lg); err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), lg.F32()...))
		}
		blg := tensor.New(tensor.F32, 2, c.Vocab)
		if err := m.NewBatchDecoder().Decode(e, kcs, []int32{3, 3}, blg); err != nil {
			t.Fatal(err)
		}
		return append(out, blg.F32())
	}
	for try := 0; try < 5; try++ {
		want, got := run(hideReadAhead{e}), run(e)
		for s := range want {
			for j, v := range want[s] {
				if got[s][j] != v {
					t.Fatalf("step %d logit %d: %v reading ahead, %v without", s, j, got[s][j], v)
				}
			}
		}
	}
}

// TestDecodeAllocs: once warm, decoding a token on the CPU engine, alone
// or batched, at a size whose passes run on both threads and are
// announced for reading ahead, allocates nothing: a new allocation is
// memory that the streamed weights have evicted, a miss on the critical
// path of every op.
func TestDecodeAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's sync.Pool drops buffers: allocations are not counted")
	}
	c, m := bf16Llama(256, 512, 3, 64, 1000, 0.1, 3)
	e := cpu.New(2)
	defer e.Close()
	kc := m.NewCache(16)
	lg := tensor.New(tensor.F32, 1, c.Vocab)
	if err := m.Decode(e, kc, []int32{1, 5, 9}, lg); err != nil {
		t.Fatal(err)
	}
	id := []int32{4}
	step := func() {
		if err := m.Decode(e, kc, id, lg); err != nil {
			t.Fatal(err)
		}
		kc.Truncate(3)
	}
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("a decoding step allocates %v times, want 0", n)
	}
	// and a batched step, over two sequences
	kcs := []*Cache{kc, m.NewCache(16)}
	if err := m.Decode(e, kcs[1], []int32{2, 7}, lg); err != nil {
		t.Fatal(err)
	}
	bd, blg, ids := m.NewBatchDecoder(), tensor.New(tensor.F32, 2, c.Vocab), []int32{4, 6}
	batch := func() {
		if err := bd.Decode(e, kcs, ids, blg); err != nil {
			t.Fatal(err)
		}
		kcs[0].Truncate(3)
		kcs[1].Truncate(2)
	}
	if n := testing.AllocsPerRun(20, batch); n != 0 {
		t.Errorf("a batched decoding step allocates %v times, want 0", n)
	}
}

// bf16Llama returns a random Llama-style model (4 heads, 2 key/value heads)
// of the given sizes with bf16 projection weights, drawn at scale from
// seed.
func bf16Llama(hidden, inter, layers, headDim, vocab int, scale float64, seed uint64) (*Config, *Model) {
	c := &Config{
		ModelType: "llama", Hidden: hidden, Intermediate: inter, Layers: layers, Heads: 4, KVHeads: 2, HeadDim: headDim,
		Vocab: vocab, MaxPositions: 128, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	w := Init(c, scale, seed)
	for _, name := range c.LinearNames() {
		l := w.LinearByName(name)
		l.W = l.W.To(tensor.BF16)
	}
	return c, New(c, w)
}
