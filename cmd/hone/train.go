package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hone/recipe"
	"hone/train"
)

func init() {
	var sets []string
	var resume string
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "train RECIPE.yaml",
		Short: "Train a model as a recipe describes, then evaluate it against the base",
		Long: `Train a model as the recipe describes (full fine-tuning, LoRA or QLoRA), with a
validation split watched every eval_every steps, early stopping that keeps the best
checkpoint, NaN detection, resumable checkpoints, metrics.jsonl, a run manifest, and
at the end a base-versus-tuned report (report.html, report.md, report.json).

--set key=value overrides any recipe key (dotted, YAML values), e.g.
  --set train.learning_rate=1e-4 --set lora.targets=[q_proj,v_proj]
The recipe, and its LoRA targets against the model's config.json, are validated
before anything loads or the output folder is made. --resume DIR continues from
a checkpoint folder (OUTPUT/checkpoint) exactly where it stopped. A new run
refuses an output folder that already holds a run (metrics.jsonl, checkpoint,
report): choose another (--set output=DIR), --resume it, or --overwrite it.

data.train may name a folder written by hone data prepare instead of data files:
its shards are trained on as they are, after checking that they were made with
the model's tokenizer and chat template.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := recipe.Load(args[0], sets)
			if err != nil {
				return withCode(2, err)
			}
			trainingGC()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p := newProgress(cmd.ErrOrStderr())
			if resume != "" && overwrite {
				return withCode(2, fmt.Errorf("--resume and --overwrite: give one of them"))
			}
			res, err := recipe.Run(ctx, r, recipe.RunOptions{Resume: resume, Overwrite: overwrite}, p)
			p.done()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "run folder: %s\n", res.Dir)
			if res.Adapter != "" {
				fmt.Fprintf(w, "adapter (best, step %d): %s\n", res.BestStep, res.Adapter)
			}
			if res.Model != "" {
				fmt.Fprintf(w, "model (best, step %d): %s\n", res.BestStep, res.Model)
			}
			if res.Report != nil {
				fmt.Fprint(w, res.Report.Summary())
			}
			if res.ReportPath != "" {
				fmt.Fprintf(w, "report: %s\n", res.ReportPath)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a recipe key: key=value (repeatable)")
	cmd.Flags().StringVar(&resume, "resume", "", "continue from this checkpoint folder")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace the run already in the output folder (its metrics, checkpoint, adapter or model and reports; other files stay)")
	rootCmd.AddCommand(cmd)
}

// progress shows a run's events: a redrawn bar with ETA and tokens/s on a
// terminal, plain log lines otherwise.
type progress struct {
	w       io.Writer
	tty     bool
	now     func() time.Time
	lastBar bool
	lastLog time.Time
	// lastEvent is when the last stage or note came: the start of the
	// training loop by the time the first step arrives.
	lastEvent time.Time
	// trainStart and firstStep are when this process's first training step
	// began and the step it began from (a resumed run does not start at
	// 0): the ETA counts only the steps done here, in the time they took.
	trainStart time.Time
	firstStep  int
	stepping   bool
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, now: time.Now, lastEvent: time.Now()}
}

func (p *progress) clearBar() {
	if p.lastBar {
		fmt.Fprint(p.w, "\r\033[K")
		p.lastBar = false
	}
}

func (p *progress) Stage(name string) {
	p.clearBar()
	fmt.Fprintf(p.w, "hone: %s\n", name)
	p.lastEvent = p.now()
}

func (p *progress) Note(msg string) {
	p.clearBar()
	fmt.Fprintf(p.w, "hone: %s\n", msg)
	p.lastEvent = p.now()
}

// eta estimates the time left after step s from the steps done in this
// process since training began (not since the process started, which
// includes loading, nor from step 0, which a resumed run did not start at).
func (p *progress) eta(s train.StepInfo) (elapsed, eta time.Duration) {
	if !p.stepping {
		p.stepping = true
		p.trainStart, p.firstStep = p.lastEvent, s.Step-1
	}
	elapsed = p.now().Sub(p.trainStart)
	if done := s.Step - p.firstStep; done > 0 {
		eta = time.Duration(float64(elapsed) / float64(done) * float64(s.Steps-s.Step))
	}
	return elapsed, eta
}

func (p *progress) OnStep(s train.StepInfo) {
	el, eta := p.eta(s)
	if p.tty {
		const width = 30
		filled := width * s.Step / max(1, s.Steps)
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d loss %.4f lr %.2e %.0f tok/s ETA %s",
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), s.Step, s.Steps, s.Loss, s.LR, s.TokensPerS, eta.Round(time.Second))
		p.lastBar = true
		return
	}
	if p.now().Sub(p.lastLog) >= 2*time.Second || s.Step == s.Steps || s.Step == p.firstStep+1 {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f lr %.2e grad_norm %.3f %.0f tok/s elapsed %s ETA %s\n",
			s.Step, s.Steps, s.Loss, s.LR, s.GradNorm, s.TokensPerS, el.Round(time.Second), eta.Round(time.Second))
		p.lastLog = p.now()
	}
}

func (p *progress) OnEval(e train.EvalInfo) {
	p.clearBar()
	mark := ""
	if e.Improved {
		mark = " (best, kept)"
	}
	fmt.Fprintf(p.w, "eval step %d: validation loss %.4f%s; best %.4f at step %d\n", e.Step, e.Loss, mark, e.Best, e.BestStep)
}

func (p *progress) done() { p.clearBar() }

// trainingGC lets the garbage collector run at half the default heap
// growth (GOGC=50) unless GOGC is set: a training process holds a large
// live heap (quantised weights, activations), and the default would let
// garbage grow to its size again before collecting.
func trainingGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
