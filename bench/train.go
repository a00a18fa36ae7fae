package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"hone/compute"
	"hone/lora"
	"hone/model"
	"hone/train"
)

// TrainOptions describes a LoRA training benchmark: fixed-length batches of
// random tokens, adapters on every projection, AdamW on the adapters.
type TrainOptions struct {
	// Seq and Batch are the tokens per sequence and sequences per step.
	Seq, Batch int
	// Rank and Alpha configure LoRA on all seven projections of each layer.
	Rank  int
	Alpha float64
	// Steps are timed after Warmup untimed ones (at least one is needed to
	// size every buffer; 0 means 1).
	Steps, Warmup int
	// Checkpoint recomputes each layer's forward in backward (gradient
	// checkpointing) instead of keeping its activations.
	Checkpoint bool
	// Seed draws the tokens and the adapters' initial values.
	Seed uint64
}

// StepReport is one finished training step.
type StepReport struct {
	Step   int // 0-based, warm-up steps included
	Warmup bool
	Time   time.Duration
	Loss   float64
}

// TrainResult is what a training benchmark measured.
type TrainResult struct {
	// Times are the timed steps' durations, in order.
	Times []time.Duration
	// Median is the median step time; TokensPerSec is Seq*Batch / Median.
	Median       time.Duration
	TokensPerSec float64
	// FLOPs is the arithmetic of one step (see TrainFLOPs) and GFLOPS its
	// rate at the median step time.
	FLOPs  float64
	GFLOPS float64
	// ActivationBytes is the activation memory model.Activations holds.
	ActivationBytes int64
	// TrainableParams counts the adapters' parameters.
	TrainableParams int64
	// FirstLoss and LastLoss are the losses of the first and last steps.
	FirstLoss, LastLoss float64
}

func (o *TrainOptions) validate() error {
	if o.Seq <= 0 || o.Batch <= 0 {
		return fmt.Errorf("train benchmark: seq %d and batch %d must be positive", o.Seq, o.Batch)
	}
	if o.Rank <= 0 || o.Alpha <= 0 {
		return fmt.Errorf("train benchmark: LoRA rank %d and alpha %g must be positive", o.Rank, o.Alpha)
	}
	if o.Steps <= 0 || o.Warmup < 0 {
		return fmt.Errorf("train benchmark: %d steps after %d warm-up steps", o.Steps, o.Warmup)
	}
	return nil
}

// Train runs LoRA training steps on m (its weights frozen, adapters attached
// to all seven projections of every layer) and times them: each step is a
// forward with activations kept, the loss over every position, the backward
// and an AdamW update, as a real run does them. onStep, when not nil, is
// called after every step. The adapters are detached again when Train
// returns.
func Train(e compute.Engine, m *model.Model, o TrainOptions, onStep func(StepReport)) (*TrainResult, error) {
	if o.Warmup == 0 {
		o.Warmup = 1
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := m.Config
	if c.MaxPositions > 0 && o.Seq > c.MaxPositions {
		return nil, fmt.Errorf("train benchmark: seq %d exceeds the model's %d positions", o.Seq, c.MaxPositions)
	}
	if w := c.SlidingWindow; w > 0 && o.Seq > w {
		return nil, fmt.Errorf("train benchmark: seq %d exceeds the model's sliding window %d", o.Seq, w)
	}
	set, err := lora.New(m, lora.Config{R: o.Rank, Alpha: o.Alpha, Targets: []string{"all-linear"}}, o.Seed)
	if err != nil {
		return nil, err
	}
	defer lora.Detach(m)
	if f, ok := e.(compute.Freezer); ok { // the base weights do not change
		frozen := m.W.Matrices(c)
		f.Freeze(frozen...)
		defer f.Thaw(frozen...)
	}
	var params []train.Param
	for _, p := range set.Params() {
		params = append(params, train.Param{Name: p.Name, Value: p.Value, Grad: p.Grad})
	}
	opt := train.NewAdamW(params, 0.9, 0.999, 1e-8, 0.01)

	r := rand.New(rand.NewPCG(o.Seed, 1))
	b := &model.Batch{B: o.Batch, T: o.Seq, IDs: make([]int32, o.Batch*o.Seq)}
	for i := range b.IDs {
		b.IDs[i] = int32(r.IntN(c.Vocab))
	}
	b.Labels = b.IDs
	if err := m.Check(b); err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	a := m.NewActivations(b.B, b.T, o.Checkpoint)
	scale := float32(1 / float64(b.NumTargets()))
	res := &TrainResult{FLOPs: TrainFLOPs(c, o.Batch, o.Seq, o.Rank), ActivationBytes: a.Bytes(), TrainableParams: set.NumParams()}
	for step := 0; step < o.Warmup+o.Steps; step++ {
		t0 := time.Now()
		train.ZeroGrads(params)
		m.Forward(e, b, a, true)
		sum, n := m.Loss(e, b, a, nil, scale, true)
		m.Backward(e, b, a, nil)
		opt.Update(params, 1e-4)
		d := time.Since(t0)
		loss := sum / float64(n)
		if step == 0 {
			res.FirstLoss = loss
		}
		res.LastLoss = loss
		warm := step < o.Warmup
		if !warm {
			res.Times = append(res.Times, d)
		}
		if onStep != nil {
			onStep(StepReport{Step: step, Warmup: warm, Time: d, Loss: loss})
		}
	}
	res.Median = median(res.Times)
	res.TokensPerSec = float64(o.Batch*o.Seq) / res.Median.Seconds()
	res.GFLOPS = res.FLOPs / res.Median.Seconds() / 1e9
	return res, nil
}

// TrainFLOPs counts the floating-point operations of one LoRA training step
// over batch sequences of seq tokens (a multiply-add counts two): for each
// frozen projection and the LM head the forward product and the input
// gradient (2 × 2·n·in·out; frozen weights need no weight gradient); causal
// attention's two forward products over the T²/2 visible pairs and its four
// backward ones; for each adapter two forward and four backward products of
// rank r. Norms, activations and the optimiser are left out (a fraction of a
// percent). Recomputation under gradient checkpointing is not counted: this
// is the work the step must do, not the work a given schedule does.
func TrainFLOPs(c *model.Config, batch, seq, r int) float64 {
	n := float64(batch * seq)
	h, q, kv, f := float64(c.Hidden), float64(c.QDim()), float64(c.KVDim()), float64(c.Intermediate)
	proj := [][2]float64{{h, q}, {h, kv}, {h, kv}, {q, h}, {h, f}, {h, f}, {f, h}}
	var base, adapters float64
	for _, p := range proj {
		base += p[0] * p[1]
		adapters += float64(r) * (p[0] + p[1])
	}
	L := float64(c.Layers)
	head := float64(c.Vocab) * h
	pairs := float64(batch) * float64(seq) * float64(seq+1) / 2
	attn := 2 * 2 * pairs * float64(c.HeadDim) * float64(c.Heads) // QKᵀ and PV
	return 4*n*(L*base+head) + 3*L*attn + 6*n*L*adapters
}

func median(ts []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
