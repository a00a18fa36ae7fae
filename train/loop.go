package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"hone/compute"
	"hone/model"
)

// Options are the loop's settings.
type Options struct {
	// Steps is the number of optimizer steps of the whole run.
	Steps int
	// GradAccum micro-batches make one optimizer step; their loss is
	// normalised by the trained tokens of all of them together.
	GradAccum int
	Schedule  Schedule
	// MaxGradNorm clips gradients by global norm (0: off).
	MaxGradNorm float64
	// EvalEvery evaluates every N steps (0: never, except at the end).
	EvalEvery int
	// Patience stops after this many evaluations without a new best
	// validation loss (0: never).
	Patience int
	// SaveEvery checkpoints every N steps besides evaluations (0: off).
	SaveEvery int
	// Checkpoint keeps only each layer's input and recomputes the rest in
	// backward.
	Checkpoint bool
}

// StepInfo is what one optimizer step reports.
type StepInfo struct {
	Step, Steps int
	Epoch       float64
	Loss        float64 // mean over the step's trained tokens
	LR          float64
	GradNorm    float64 // before clipping
	Tokens      int     // tokens processed (including prompts and padding)
	Trained     int     // trained tokens
	TokensPerS  float64
	Elapsed     time.Duration
}

// EvalInfo is what one evaluation on the validation split reports.
type EvalInfo struct {
	Step     int
	Loss     float64
	Best     float64
	BestStep int
	Improved bool
}

// Observer receives the loop's events (progress bars, metrics files).
type Observer interface {
	OnStep(StepInfo)
	OnEval(EvalInfo)
}

// Checkpointer saves and restores what a resumed run needs besides the
// loop's own state and the optimizer: the trainable weights (an adapter or
// full weights) and any random state they carry (dropout).
type Checkpointer interface {
	// SaveWeights writes the trainable weights into dir (which exists).
	SaveWeights(dir string) error
	// LoadWeights restores them from dir.
	LoadWeights(dir string) error
	// Best is called when a new best validation loss is reached, to keep a
	// copy of the weights.
	Best(step int, loss float64) error
}

// State is the loop's position, saved in checkpoints.
type State struct {
	Step     int     `json:"step"`
	Epoch    int     `json:"epoch"`
	Batch    int     `json:"batch"` // next micro-batch within the epoch
	Best     float64 `json:"best_eval_loss"`
	BestStep int     `json:"best_step"`
	Bad      int     `json:"evals_without_improvement"`
	Tokens   int64   `json:"tokens_seen"`
}

// Trainer runs optimisation steps over a model.
type Trainer struct {
	Model  *model.Model
	Engine compute.Engine
	// Params are the trainable tensors; Grads, for full fine-tuning, is the
	// gradient struct passed to the model's backward (nil for adapters,
	// which hold their own gradients).
	Params []Param
	Grads  *model.Weights
	Opt    *AdamW
	Train  *Batcher
	Val    []*model.Batch
	Opts   Options
	Obs    Observer
	Ckpt   Checkpointer
	// CheckpointDir receives the resumable checkpoint ("" : none).
	CheckpointDir string
	State         State

	acts map[[2]int]*model.Activations
}

// ErrNonFinite is returned when the loss or gradient becomes NaN or Inf.
var ErrNonFinite = errors.New("loss or gradient is not finite")

// EarlyStopped is returned by Run when validation loss stopped improving.
type EarlyStopped struct{ Step, BestStep int }

func (e *EarlyStopped) Error() string {
	return fmt.Sprintf("stopped early at step %d: validation loss has not improved since step %d", e.Step, e.BestStep)
}

func (t *Trainer) activations(b *model.Batch) *model.Activations {
	if t.acts == nil {
		t.acts = map[[2]int]*model.Activations{}
	}
	k := [2]int{b.B, b.T}
	a := t.acts[k]
	if a == nil {
		if len(t.acts) > 8 { // many ragged shapes: keep memory bounded
			clear(t.acts)
		}
		a = t.Model.NewActivations(b.B, b.T, t.Opts.Checkpoint)
		t.acts[k] = a
	}
	return a
}

// nextBatch returns the next micro-batch and advances the data position.
func (t *Trainer) nextBatch() *model.Batch {
	if t.State.Batch >= t.Train.BatchesPerEpoch() {
		t.State.Epoch++
		t.State.Batch = 0
	}
	b := t.Train.Batch(t.State.Epoch, t.State.Batch)
	t.State.Batch++
	return b
}

// Step runs one optimizer step: GradAccum micro-batches whose summed loss
// is divided by their total number of trained tokens, then clipping and an
// AdamW update.
func (t *Trainer) Step() (StepInfo, error) {
	start := time.Now()
	accum := max(1, t.Opts.GradAccum)
	batches := make([]*model.Batch, accum)
	total := 0
	for i := range batches {
		batches[i] = t.nextBatch()
		total += batches[i].NumTargets()
	}
	info := StepInfo{Step: t.State.Step + 1, Steps: t.Opts.Steps}
	if total == 0 {
		return info, fmt.Errorf("step %d: no trained tokens in %d micro-batches (every label is masked)", info.Step, accum)
	}
	ZeroGrads(t.Params)
	scale := float32(1 / float64(total))
	var sum float64
	for _, b := range batches {
		if err := t.Model.Check(b); err != nil {
			return info, fmt.Errorf("step %d: %w", info.Step, err)
		}
		a := t.activations(b)
		t.Model.Forward(t.Engine, b, a, true)
		s, _ := t.Model.Loss(t.Engine, b, a, t.Grads, scale, true)
		t.Model.Backward(t.Engine, b, a, t.Grads)
		sum += s
		info.Tokens += b.B * b.T
	}
	info.Trained = total
	info.Loss = sum / float64(total)
	info.GradNorm = ClipGradNorm(t.Params, t.Opts.MaxGradNorm)
	if math.IsNaN(info.Loss) || math.IsInf(info.Loss, 0) || math.IsNaN(info.GradNorm) || math.IsInf(info.GradNorm, 0) {
		return info, fmt.Errorf("step %d: %w (loss %v, gradient norm %v): lower the learning rate or check the data; the last good checkpoint is kept", info.Step, ErrNonFinite, info.Loss, info.GradNorm)
	}
	info.LR = t.Opts.Schedule.LR(t.State.Step)
	t.Opt.Update(t.Params, info.LR)
	t.State.Step++
	t.State.Tokens += int64(info.Tokens)
	info.Epoch = float64(t.State.Epoch) + float64(t.State.Batch)/float64(t.Train.BatchesPerEpoch())
	info.Elapsed = time.Since(start)
	info.TokensPerS = float64(info.Tokens) / info.Elapsed.Seconds()
	return info, nil
}

// Evaluate returns the token-weighted mean loss over the validation batches.
func (t *Trainer) Evaluate() (float64, error) {
	return MeanLoss(t.Engine, t.Model, t.Val)
}

// MeanLoss is the token-weighted mean loss of a model over batches: the
// exponent of perplexity.
func MeanLoss(e compute.Engine, m *model.Model, batches []*model.Batch) (float64, error) {
	var sum float64
	var n int
	for _, b := range batches {
		if err := m.Check(b); err != nil {
			return 0, err
		}
		a := m.NewActivations(b.B, b.T, true)
		m.Forward(e, b, a, false)
		s, c := m.Loss(e, b, a, nil, 0, false)
		sum += s
		n += c
	}
	if n == 0 {
		return 0, errors.New("no trained tokens to evaluate")
	}
	return sum / float64(n), nil
}

// Run trains until Opts.Steps, evaluating, checkpointing and stopping early
// as configured. It returns an *EarlyStopped error when patience ran out,
// an error wrapping ErrNonFinite on divergence (the last checkpoint is
// kept), and ctx.Err() when cancelled (after writing a checkpoint).
func (t *Trainer) Run(ctx context.Context) error {
	if t.State.Step == 0 && t.State.BestStep == 0 {
		t.State.Best = math.Inf(1)
	}
	for t.State.Step < t.Opts.Steps {
		if err := ctx.Err(); err != nil {
			if serr := t.Save(); serr != nil {
				return serr
			}
			return err
		}
		info, err := t.Step()
		if err != nil {
			return err
		}
		if t.Obs != nil {
			t.Obs.OnStep(info)
		}
		last := t.State.Step == t.Opts.Steps
		evalNow := len(t.Val) > 0 && ((t.Opts.EvalEvery > 0 && t.State.Step%t.Opts.EvalEvery == 0) || last)
		if evalNow {
			loss, err := t.Evaluate()
			if err != nil {
				return err
			}
			ev := EvalInfo{Step: t.State.Step, Loss: loss}
			if loss < t.State.Best {
				t.State.Best, t.State.BestStep, t.State.Bad = loss, t.State.Step, 0
				ev.Improved = true
				if t.Ckpt != nil {
					if err := t.Ckpt.Best(t.State.Step, loss); err != nil {
						return err
					}
				}
			} else {
				t.State.Bad++
			}
			ev.Best, ev.BestStep = t.State.Best, t.State.BestStep
			if t.Obs != nil {
				t.Obs.OnEval(ev)
			}
		}
		if evalNow || last || (t.Opts.SaveEvery > 0 && t.State.Step%t.Opts.SaveEvery == 0) {
			if err := t.Save(); err != nil {
				return err
			}
		}
		if evalNow && t.Opts.Patience > 0 && t.State.Bad >= t.Opts.Patience {
			return &EarlyStopped{Step: t.State.Step, BestStep: t.State.BestStep}
		}
	}
	return nil
}
