package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"hone/compute"
	"hone/generate"
	"hone/model"
	"hone/tensor"
)

// Streamer is an engine that can read memory at full speed (cpu.Engine):
// what the generation benchmark measures its bandwidth limit with.
type Streamer interface {
	// StreamRead reads every byte of data once and returns a value
	// computed from them.
	StreamRead(data ...[]byte) float64
}

// GenerateOptions describes a generation benchmark: one sequence, a prompt
// of random tokens prefilled at once, then greedy decoding token by token
// with the KV cache.
type GenerateOptions struct {
	// Prompt is the number of prompt tokens; Tokens the number decoded.
	Prompt, Tokens int
	// Seed draws the prompt.
	Seed uint64
	// OneThread, when not nil, is an engine on one thread: after each
	// token it reads the weights too, which tells how much of the limit
	// one core can pull (where that is near the two-thread read, a
	// decoding step's small ops and handoffs cost the most).
	OneThread Streamer
}

// GenerateResult is what a generation benchmark measured.
type GenerateResult struct {
	// Prefill is the time of the prompt's forward pass and
	// PrefillTokensPerSec its rate.
	Prefill             time.Duration
	PrefillTokensPerSec float64
	// Decode are the times of each decoded token, in order (the model's
	// step and the greedy pick, generate.Argmax, as in generation);
	// DecodeMedian their median and TokensPerSec its inverse.
	Decode       []time.Duration
	DecodeMedian time.Duration
	TokensPerSec float64
	// StreamBytes is what one token must read of the weights: every
	// projection of every layer and the LM head (norms and one embedding
	// row are left out, a fraction of a percent; the KV cache is
	// CacheBytes).
	StreamBytes int64
	// Stream are the times of reading those weights once, measured after
	// each decoded token so that both see the same machine; StreamMedian is
	// their median, BandwidthGBs the bandwidth it gives (10⁹ bytes a second)
	// and LimitTokensPerSec = 1/StreamMedian, the speed decoding would have
	// if it did nothing but read its weights.
	Stream            []time.Duration
	StreamMedian      time.Duration
	BandwidthGBs      float64
	LimitTokensPerSec float64
	// OfLimit is TokensPerSec / LimitTokensPerSec.
	OfLimit float64
	// Paired are each token's read over its decoding time (Stream[i] /
	// Decode[i]); PairedMedian, PairedLow and PairedHigh their median and
	// quartiles. Where the machine changes speed within a run (on a VM the
	// vCPUs' placement can change the bandwidth by half), the medians of
	// the two series may come from different stretches of it, and OfLimit
	// with them; the paired ratios compare each token with the read made
	// right after it.
	Paired                              []float64
	PairedMedian, PairedLow, PairedHigh float64
	// CacheBytes is what a decoded token reads of the KV cache on top of
	// the weights, on average over the decoded tokens (every layer's keys
	// and values of the positions it attends to); CacheLimitTokensPerSec
	// is the speed of reading StreamBytes + CacheBytes at BandwidthGBs,
	// and OfCacheLimit TokensPerSec over it. At the default short contexts
	// the cache is a fraction of a percent of a token's bytes; at
	// thousands of positions it is a third of them, and this is the limit
	// that decoding can be held to.
	CacheBytes             int64
	CacheLimitTokensPerSec float64
	OfCacheLimit           float64
	// OneThread are the times of the one-thread read (with
	// GenerateOptions.OneThread), OneThreadMedian their median and
	// OneThreadGBs its bandwidth; zero without it.
	OneThread       []time.Duration
	OneThreadMedian time.Duration
	OneThreadGBs    float64
}

// streamed lists the weight tensors one decoded token reads.
func streamed(m *model.Model) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for _, name := range m.Config.LinearNames() {
		if l := m.W.LinearByName(name); l != nil && l.W != nil {
			ts = append(ts, l.W)
		}
	}
	return append(ts, m.W.LMHead)
}

// Generate prefills a random prompt and decodes greedily from it, timing
// every token, and after each token times one read of every weight that a
// token streams (see GenerateResult). e must be a Streamer. Quantised
// models are refused: their bytes are not what a token's arithmetic reads.
func Generate(e compute.Engine, m *model.Model, o GenerateOptions) (*GenerateResult, error) {
	st, ok := e.(Streamer)
	if !ok {
		return nil, fmt.Errorf("generate benchmark: engine %s cannot measure memory bandwidth", e.Name())
	}
	if o.Prompt <= 0 || o.Tokens <= 0 {
		return nil, fmt.Errorf("generate benchmark: prompt %d and tokens %d must be positive", o.Prompt, o.Tokens)
	}
	c := m.Config
	if n := o.Prompt + o.Tokens; c.MaxPositions > 0 && n > c.MaxPositions {
		return nil, fmt.Errorf("generate benchmark: %d prompt + %d decoded tokens exceed the model's %d positions", o.Prompt, o.Tokens, c.MaxPositions)
	}
	if c.Quant != nil {
		return nil, fmt.Errorf("generate benchmark: quantised (%s) models are not supported", c.Quant.Format)
	}
	r := rand.New(rand.NewPCG(o.Seed, 2))
	prompt := make([]int32, o.Prompt)
	for i := range prompt {
		prompt[i] = int32(r.IntN(c.Vocab))
	}
	kc := m.NewCache(o.Prompt + o.Tokens)
	logits := tensor.New(m.ActType(), 1, c.Vocab)
	res := &GenerateResult{}
	var weights [][]byte
	for _, w := range streamed(m) {
		weights = append(weights, w.Data)
		res.StreamBytes += int64(len(w.Data))
	}
	stream := func() time.Duration {
		t0 := time.Now()
		st.StreamRead(weights...)
		return time.Since(t0)
	}
	stream() // warm up the worker pool
	t0 := time.Now()
	if err := m.Decode(e, kc, prompt, logits); err != nil {
		return nil, err
	}
	res.Prefill = time.Since(t0)
	res.PrefillTokensPerSec = float64(o.Prompt) / res.Prefill.Seconds()
	next := generate.Argmax(logits.F32())
	for i := 0; i < o.Tokens; i++ {
		t0 := time.Now()
		if err := m.Decode(e, kc, []int32{next}, logits); err != nil {
			return nil, err
		}
		next = generate.Argmax(logits.F32())
		res.Decode = append(res.Decode, time.Since(t0))
		res.Stream = append(res.Stream, stream())
		if o.OneThread != nil {
			t0 := time.Now()
			o.OneThread.StreamRead(weights...)
			res.OneThread = append(res.OneThread, time.Since(t0))
		}
	}
	if len(res.OneThread) > 0 {
		res.OneThreadMedian = median(res.OneThread)
		res.OneThreadGBs = float64(res.StreamBytes) / res.OneThreadMedian.Seconds() / 1e9
	}
	res.DecodeMedian = median(res.Decode)
	res.TokensPerSec = 1 / res.DecodeMedian.Seconds()
	res.StreamMedian = median(res.Stream)
	res.BandwidthGBs = float64(res.StreamBytes) / res.StreamMedian.Seconds() / 1e9
	res.LimitTokensPerSec = 1 / res.StreamMedian.Seconds()
	res.OfLimit = res.TokensPerSec / res.LimitTokensPerSec
	for i, d := range res.Decode {
		res.Paired = append(res.Paired, res.Stream[i].Seconds()/d.Seconds())
	}
	q := append([]float64(nil), res.Paired...)
	sort.Float64s(q)
	res.PairedMedian, res.PairedLow, res.PairedHigh = q[len(q)/2], q[len(q)/4], q[len(q)*3/4]
	// token i (from 0) attends to Prompt+i+1 positions
	var row int64
	for l := range kc.K {
		row += int64(len(kc.K[l].Data)+len(kc.V[l].Data)) / int64(kc.Capacity())
	}
	res.CacheBytes = row * int64(2*o.Prompt+o.Tokens+1) / 2
	res.CacheLimitTokensPerSec = res.BandwidthGBs * 1e9 / float64(res.StreamBytes+res.CacheBytes)
	res.OfCacheLimit = res.TokensPerSec / res.CacheLimitTokensPerSec
	return res, nil
}
