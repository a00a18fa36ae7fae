package train

import (
	"context"
	"errors"
	"math"
	"testing"

	"hone/compute/ref"
	"hone/model"
	"hone/tensor"
)

func tinyModel(seed uint64) *model.Model {
	c := &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4,
		Vocab: 24, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	return model.New(c, model.Init(c, 0.3, seed))
}

// fullTrainer makes every weight of m trainable.
func fullTrainer(m *model.Model) ([]Param, *model.Weights) {
	g := &model.Weights{}
	gp := g.Params(m.Config)
	var ps []Param
	for i, p := range m.W.Params(m.Config) {
		grad := tensor.New(tensor.F32, p.Shape...)
		*gp[i].Ptr = grad
		ps = append(ps, Param{p.Name, *p.Ptr, grad})
	}
	return ps, g
}

// seqs returns n sequences of varying lengths with different numbers of
// trained tokens.
func seqs(n int) []Sequence {
	var out []Sequence
	for i := 0; i < n; i++ {
		L := 4 + (i*3)%7
		s := Sequence{}
		for t := 0; t < L; t++ {
			id := int32(3 + (i*5+t*7)%20)
			s.IDs = append(s.IDs, id)
			if t < 1+i%3 {
				s.Labels = append(s.Labels, -100)
			} else {
				s.Labels = append(s.Labels, id)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestGradAccumulationEqualsOneBatch: 4 micro-batches with unequal numbers
// of trained tokens give the same update as one batch of all of them,
// because the loss is normalised by the tokens of the whole step.
func TestGradAccumulationEqualsOneBatch(t *testing.T) {
	data := seqs(8)
	run := func(batch, accum int) []Param {
		m := tinyModel(1)
		ps, g := fullTrainer(m)
		tr := &Trainer{Model: m, Engine: ref.Engine{}, Params: ps, Grads: g,
			Opt:   NewAdamW(ps, 0.9, 0.999, 1e-8, 0.01),
			Train: &Batcher{Seqs: data, BatchSize: batch},
			Opts:  Options{Steps: 1, GradAccum: accum, Schedule: Schedule{Kind: "constant", Peak: 1e-2}}}
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	// the micro-batches really have unequal trained-token counts
	b := &Batcher{Seqs: data, BatchSize: 2}
	counts := map[int]bool{}
	for k := 0; k < 4; k++ {
		counts[b.Batch(0, k).NumTargets()] = true
	}
	if len(counts) < 2 {
		t.Fatal("micro-batches have equal trained-token counts; the test proves nothing")
	}
	one, acc := run(8, 1), run(2, 4)
	for i := range one {
		a, b := one[i].Value.F32(), acc[i].Value.F32()
		ga, gb := one[i].Grad.F32(), acc[i].Grad.F32()
		for j := range a {
			if math.Abs(float64(ga[j]-gb[j])) > 1e-6*(1+math.Abs(float64(ga[j]))) {
				t.Fatalf("%s grad[%d]: one batch %v, accumulated %v", one[i].Name, j, ga[j], gb[j])
			}
			if math.Abs(float64(a[j]-b[j])) > 1e-6 {
				t.Fatalf("%s[%d] after the step: one batch %v, accumulated %v", one[i].Name, j, a[j], b[j])
			}
		}
	}
}

type bestRecorder struct {
	m          *model.Model
	bestStep   int
	bestWeight []float32
}

func (b *bestRecorder) SaveWeights(string) error { return nil }
func (b *bestRecorder) LoadWeights(string) error { return nil }
func (b *bestRecorder) Best(step int, loss float64) error {
	b.bestStep = step
	b.bestWeight = append([]float32(nil), b.m.W.Layers[0].Q.W.F32()...)
	return nil
}

type evalLog struct{ evals []EvalInfo }

func (l *evalLog) OnStep(StepInfo)   {}
func (l *evalLog) OnEval(e EvalInfo) { l.evals = append(l.evals, e) }

// TestEarlyStopping: full fine-tuning of 4 examples at a high learning rate
// overfits; validation on other data gets worse, patience runs out, and the
// kept weights are those of the best evaluation.
func TestEarlyStopping(t *testing.T) {
	m := tinyModel(2)
	ps, g := fullTrainer(m)
	all := seqs(12)
	var val []*model.Batch
	for _, s := range all[4:] {
		val = append(val, Collate([]Sequence{s}, 0))
	}
	rec := &bestRecorder{m: m}
	log := &evalLog{}
	tr := &Trainer{Model: m, Engine: ref.Engine{}, Params: ps, Grads: g,
		Opt:   NewAdamW(ps, 0.9, 0.999, 1e-8, 0),
		Train: &Batcher{Seqs: all[:4], BatchSize: 4}, Val: val,
		Opts: Options{Steps: 300, Schedule: Schedule{Kind: "constant", Peak: 3e-2}, EvalEvery: 5, Patience: 3},
		Ckpt: rec, Obs: log}
	err := tr.Run(context.Background())
	var early *EarlyStopped
	if !errors.As(err, &early) {
		t.Fatalf("Run = %v, want early stopping", err)
	}
	best := math.Inf(1)
	bestStep := 0
	for _, e := range log.evals {
		if e.Loss < best {
			best, bestStep = e.Loss, e.Step
		}
	}
	if rec.bestStep != bestStep || early.BestStep != bestStep {
		t.Fatalf("kept step %d (reported %d), but the best validation loss was at step %d", rec.bestStep, early.BestStep, bestStep)
	}
	last := log.evals[len(log.evals)-1]
	if last.Step-bestStep != 3*5 || last.Loss <= best {
		t.Fatalf("stopped at step %d with loss %v; best %v at %d", last.Step, last.Loss, best, bestStep)
	}
	t.Logf("stopped at step %d, best validation loss %.4f at step %d", last.Step, best, bestStep)
}

// TestAllMaskedIsAnError: a step whose labels are all ignored fails with a
// clear error instead of producing NaN.
func TestAllMaskedIsAnError(t *testing.T) {
	m := tinyModel(1)
	ps, g := fullTrainer(m)
	s := Sequence{IDs: []int32{3, 4, 5}, Labels: []int32{-100, -100, -100}}
	tr := &Trainer{Model: m, Engine: ref.Engine{}, Params: ps, Grads: g, Opt: NewAdamW(ps, 0.9, 0.999, 1e-8, 0),
		Train: &Batcher{Seqs: []Sequence{s}, BatchSize: 1}, Opts: Options{Steps: 1, Schedule: Schedule{Kind: "constant", Peak: 1}}}
	if _, err := tr.Step(); err == nil {
		t.Fatal("a batch with every label masked trained")
	}
}

// TestNaNStops: a diverging run stops with ErrNonFinite.
func TestNaNStops(t *testing.T) {
	m := tinyModel(1)
	ps, g := fullTrainer(m)
	m.W.Layers[0].Q.W.F32()[0] = float32(math.NaN())
	tr := &Trainer{Model: m, Engine: ref.Engine{}, Params: ps, Grads: g, Opt: NewAdamW(ps, 0.9, 0.999, 1e-8, 0),
		Train: &Batcher{Seqs: seqs(2), BatchSize: 2}, Opts: Options{Steps: 3, Schedule: Schedule{Kind: "constant", Peak: 1e-3}}}
	if err := tr.Run(context.Background()); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Run = %v, want ErrNonFinite", err)
	}
}
