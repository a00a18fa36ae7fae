package recipe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
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

// RunOptions say how Run treats the run folder.
type RunOptions struct {
	// Resume names a checkpoint folder to continue from ("" for a new run).
	Resume string
	// Overwrite lets a new run replace the run already in the output
	// folder (its files only: see runFiles); without it, such a folder is
	// an error.
	Overwrite bool
}

// runFiles are what a run writes into its folder; Overwrite removes them
// and nothing else.
var runFiles = []string{"metrics.jsonl", "manifest.json", "recipe.yaml", "checkpoint", "checkpoint.old",
	"adapter", "adapter.old", "model", "model.old", "report.json", "report.md", "report.html", "loss.png"}

// holdsRun reports whether dir holds a run: its metrics, a checkpoint or a
// report.
func holdsRun(dir string) bool {
	for _, name := range []string{"metrics.jsonl", "checkpoint", "report.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// Run carries out a recipe: load the model and data, train with
// validation and early stopping, keep the best weights, and (unless
// eval.skip) evaluate base against tuned. The technique is checked
// against the model's config.json, and a new run refuses an output folder
// that already holds a run (unless o.Overwrite), before anything loads or
// the folder is created.
func Run(ctx context.Context, r *Recipe, o RunOptions, ev Events) (*Result, error) {
	out := r.Output
	modelDir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	mc, err := model.LoadConfig(modelDir)
	if err != nil {
		return nil, err
	}
	if err := checkTechnique(r, mc); err != nil {
		return nil, err
	}
	if o.Resume == "" && holdsRun(out) && !o.Overwrite {
		return nil, fmt.Errorf("%s already holds a run (metrics.jsonl, checkpoint or report): choose another output folder (recipe key output, or --set output=DIR), continue that run with --resume %s, or replace it with --overwrite",
			out, filepath.Join(out, "checkpoint"))
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
		cfg := r.loraConfig()
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
	if o.Resume != "" {
		if err := tr.Resume(o.Resume); err != nil {
			return nil, err
		}
		resumeStep = tr.State.Step
		ev.Note(fmt.Sprintf("resumed from %s at step %d", o.Resume, resumeStep))
	} else if o.Overwrite && holdsRun(out) {
		ev.Note(fmt.Sprintf("replacing the earlier run in %s", out))
		for _, name := range runFiles {
			if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
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
		kept := res.Adapter + res.Model
		return nil, fmt.Errorf("training finished (the best weights are in %s) but the evaluation failed: %w", kept, err)
	}
	res.ReportPath = filepath.Join(out, "report.html")
	res.Report = rep
	return res, nil
}

// checkTechnique checks the technique's settings against the model's
// config.json, before anything loads: the full.freeze patterns, the LoRA
// settings, and that every lora.targets entry names linear layers the
// architecture has.
func checkTechnique(r *Recipe, c *model.Config) error {
	if r.Technique == "full" {
		for i, pat := range r.Full.Freeze {
			if _, err := path.Match(pat, ""); err != nil {
				return fmt.Errorf("full.freeze[%d]: bad pattern %q: %w", i, pat, err)
			}
		}
		return nil
	}
	cfg := r.loraConfig()
	if err := cfg.Validate(); err != nil {
		return err
	}
	names := c.LinearNames()
	for i, t := range cfg.Targets {
		one := lora.Config{Targets: []string{t}}
		hit := false
		for _, n := range names {
			if one.Targeted(n) {
				hit = true
				break
			}
		}
		if !hit {
			return fmt.Errorf("lora.targets[%d]: %q matches no linear layer of the %s model %s (it has %s, or all-linear)",
				i, t, c.ModelType, r.Model, strings.Join(lora.Modules, ", "))
		}
	}
	return nil
}

// loraConfig is the adapter configuration of the recipe.
func (r *Recipe) loraConfig() lora.Config {
	return lora.Config{R: r.LoRA.R, Alpha: r.LoRA.Alpha, Dropout: r.LoRA.Dropout, Targets: r.LoRA.Targets,
		RSLoRA: r.LoRA.RSLoRA, Init: r.LoRA.Init, BaseModel: r.Model}
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
