package recipe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"time"

	"hone/compute"
	"hone/compute/cpu"
	"hone/eval"
	"hone/hub"
	"hone/lora"
	"hone/model"
	"hone/tensor"
	"hone/tokenizer"
	"hone/train"
)

// Events receives what a run reports as it goes; the hone command turns
// them into a progress bar or log lines. Nothing in this package prints.
type Events interface {
	train.Observer
	// Stage announces a phase of the run ("loading model", "checking data", ...).
	Stage(name string)
	// Note reports something worth knowing that is not an error.
	Note(msg string)
}

// Result is what a finished run leaves behind.
type Result struct {
	Dir        string // the run folder
	Adapter    string // the kept adapter folder (LoRA), or ""
	Model      string // the kept full model folder (full fine-tuning), or ""
	Steps      int
	BestStep   int
	BestLoss   float64
	Stopped    string // why training ended early, if it did
	ReportPath string
	// Report is the base-versus-tuned comparison (nil with eval.skip).
	Report *eval.Report
}

// Run carries out a recipe: load the model and data, train with
// validation and early stopping, keep the best weights, and (unless
// eval.skip) evaluate base against tuned. resume names a checkpoint folder
// to continue from ("" for a fresh run).
func Run(ctx context.Context, r *Recipe, resume string, ev Events) (*Result, error) {
	out := r.Output
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Dir: out}
	prec, _ := model.ParsePrecision(r.Precision)
	e := cpu.New(r.Train.Threads)
	man := NewManifest(e.Name())
	man.Recipe = string(r.YAML())

	ev.Stage("loading model")
	m, tok, closeModel, err := loadBase(r, prec)
	if err != nil {
		return nil, err
	}
	defer closeModel()
	modelDir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	if err := man.AddInput(modelDir); err != nil {
		return nil, err
	}

	ev.Stage("preparing data")
	tmpl, err := template(r, tok)
	if err != nil {
		return nil, err
	}
	ds, err := prepareData(r, tok, tmpl, m.Config, ev)
	if err != nil {
		return nil, err
	}
	for _, f := range ds.Files {
		if err := man.AddInput(f); err != nil {
			return nil, err
		}
	}
	man.Template = ds.Template

	// the technique: which tensors train
	var params []train.Param
	var grads *model.Weights
	var ckpt train.Checkpointer
	var set *lora.Set
	switch r.Technique {
	case "lora", "qlora":
		cfg := lora.Config{R: r.LoRA.R, Alpha: r.LoRA.Alpha, Dropout: r.LoRA.Dropout, Targets: r.LoRA.Targets,
			RSLoRA: r.LoRA.RSLoRA, Init: r.LoRA.Init, BaseModel: r.Model}
		set, err = lora.New(m, cfg, r.Train.Seed)
		if err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
		for _, p := range set.Params() {
			params = append(params, train.Param{Name: p.Name, Value: p.Value, Grad: p.Grad})
		}
		// the base weights do not change: the engine keeps them packed
		frozen := m.W.Matrices(m.Config)
		e.Freeze(frozen...)
		defer e.Thaw(frozen...)
		res.Adapter = filepath.Join(out, "adapter")
		ckpt = &loraCheckpoint{set: set, m: m, best: res.Adapter}
		if r.Technique == "qlora" {
			ev.Note("QLoRA: the base projections are held in NF4 (blocks of 64, double-quantised scales); merging folds the adapter into the dequantised weights")
		}
		ev.Note(fmt.Sprintf("LoRA r=%d alpha=%g on %d layers: %d trainable parameters (%.3f%% of %d)", cfg.R, cfg.Alpha,
			len(set.Adapters), set.NumParams(), 100*float64(set.NumParams())/float64(m.Config.NumParams()), m.Config.NumParams()))
	case "full":
		params, grads, err = fullParams(m, r.Full.Freeze)
		if err != nil {
			return nil, err
		}
		res.Model = filepath.Join(out, "model")
		ckpt = &fullCheckpoint{m: m, params: params, best: res.Model, tokDir: modelDir}
		var n int64
		for _, p := range params {
			n += int64(p.Value.Numel())
		}
		ev.Note(fmt.Sprintf("full fine-tuning: %d trainable parameters", n))
	}

	// the schedule
	batcher := &train.Batcher{Seqs: ds.Train, BatchSize: r.Train.BatchSize, PadID: ds.Pad, Seed: r.Train.Seed, Shuffle: true}
	steps := r.Train.MaxSteps
	if steps == 0 {
		steps = int(math.Ceil(r.Train.Epochs * float64(batcher.BatchesPerEpoch()) / float64(r.Train.GradAccum)))
	}
	warmup := r.Train.WarmupSteps
	if warmup == 0 {
		warmup = int(r.Train.WarmupRatio * float64(steps))
	}
	evalEvery := r.Train.EvalEvery
	if evalEvery == 0 {
		evalEvery = max(1, batcher.BatchesPerEpoch()/r.Train.GradAccum)
	}
	var val []*model.Batch
	for i := 0; i < len(ds.Val); i += r.Train.BatchSize {
		val = append(val, train.Collate(ds.Val[i:min(i+r.Train.BatchSize, len(ds.Val))], ds.Pad))
	}
	tr := &train.Trainer{
		Model: m, Engine: e, Params: params, Grads: grads,
		Opt:   train.NewAdamW(params, r.Train.Beta1, r.Train.Beta2, r.Train.Eps, r.Train.WeightDecay),
		Train: batcher, Val: val,
		Opts: train.Options{Steps: steps, GradAccum: r.Train.GradAccum,
			Schedule:    train.Schedule{Kind: r.Train.Scheduler, Peak: r.Train.LearningRate, Warmup: warmup, Total: steps},
			MaxGradNorm: r.Train.MaxGradNorm, EvalEvery: evalEvery, Patience: r.Train.Patience,
			SaveEvery: r.Train.SaveEvery, Checkpoint: r.Train.GradientCheckpointing},
		Ckpt:          ckpt,
		CheckpointDir: filepath.Join(out, "checkpoint"),
	}
	resumeStep := -1
	if resume != "" {
		if err := tr.Resume(resume); err != nil {
			return nil, err
		}
		resumeStep = tr.State.Step
		ev.Note(fmt.Sprintf("resumed from %s at step %d", resume, resumeStep))
	}
	metrics, err := train.OpenMetrics(filepath.Join(out, "metrics.jsonl"), resumeStep)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	tr.Obs = train.Observers{metrics, ev}
	if err := man.Write(filepath.Join(out, "manifest.json")); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "recipe.yaml"), r.YAML(), 0o644); err != nil {
		return nil, err
	}

	ev.Stage(fmt.Sprintf("training: %d steps, %d sequences, %d validation", steps, len(ds.Train), len(ds.Val)))
	start := time.Now()
	err = tr.Run(ctx)
	var early *train.EarlyStopped
	switch {
	case errors.As(err, &early):
		res.Stopped = early.Error()
		ev.Note(res.Stopped)
	case err != nil:
		return nil, err
	}
	res.Steps, res.BestStep, res.BestLoss = tr.State.Step, tr.State.BestStep, tr.State.Best
	if len(val) == 0 { // nothing to choose by: keep the last weights
		if err := ckpt.Best(tr.State.Step, 0); err != nil {
			return nil, err
		}
	}
	ev.Note(fmt.Sprintf("trained %d steps in %s; best validation loss %.4f at step %d", res.Steps, time.Since(start).Round(time.Second), res.BestLoss, res.BestStep))
	if r.Eval.Skip {
		return res, nil
	}
	ev.Stage("evaluating base vs tuned")
	rep, err := evaluate(ctx, r, e, res, ds, tok, tmpl, ev)
	if err != nil {
		return nil, err
	}
	res.ReportPath = filepath.Join(out, "report.html")
	res.Report = rep
	return res, nil
}

// loadBase loads the base model (pretrained, or freshly initialised from
// its config.json) and its tokenizer.
func loadBase(r *Recipe, prec model.Precision) (*model.Model, *tokenizer.Tokenizer, func() error, error) {
	dir, err := r.modelDir()
	if err != nil {
		return nil, nil, nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if r.Init == "random" {
		c, err := model.LoadConfig(dir)
		if err != nil {
			return nil, nil, nil, err
		}
		return model.New(c, model.Init(c, 0.02, r.Train.Seed)), tok, func() error { return nil }, nil
	}
	if r.Technique == "full" {
		prec = model.FP32 // master weights are trained in place
	}
	load := model.Load
	if r.Technique == "qlora" {
		load = func(dir string, prec model.Precision) (*model.Model, func() error, error) {
			return model.LoadQuantized(dir, prec, "nf4")
		}
	}
	m, closer, err := load(dir, prec)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, tok, closer, nil
}

// fullParams makes every parameter not frozen trainable: a writable float32
// copy (master weights) and a zeroed gradient.
func fullParams(m *model.Model, freeze []string) ([]train.Param, *model.Weights, error) {
	for _, pat := range freeze {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, nil, fmt.Errorf("full.freeze: bad pattern %q: %w", pat, err)
		}
	}
	c := m.Config
	g := &model.Weights{}
	gp := g.Params(c)
	var params []train.Param
	for i, p := range m.W.Params(c) {
		frozen := false
		for _, pat := range freeze {
			if ok, _ := path.Match(pat, p.Name); ok {
				frozen = true
			}
		}
		if frozen {
			continue
		}
		v := (*p.Ptr).ToF32().Clone()
		*p.Ptr = v
		grad := tensor.New(tensor.F32, p.Shape...)
		*gp[i].Ptr = grad
		params = append(params, train.Param{Name: p.Name, Value: v, Grad: grad})
	}
	if c.TieEmbeddings {
		m.W.LMHead = m.W.Embed
		g.LMHead = g.Embed
	}
	if len(params) == 0 {
		return nil, nil, errors.New("full.freeze froze every parameter; nothing would train")
	}
	return params, g, nil
}

var _ compute.Engine = (*cpu.Engine)(nil)

// modelDir is the folder of the recipe's model: a folder (relative to the
// recipe's), or the local snapshot of a Hugging Face Hub id, pulled into the
// standard cache when needed.
func (r *Recipe) modelDir() (string, error) {
	return hub.Resolve(context.Background(), r.Path(r.Model), hub.FromEnv())
}
