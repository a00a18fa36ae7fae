package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"hone/hub"
	"hone/plan"
	"hone/tensor"
)

// planFlags are the flags of hone plan.
type planFlags struct {
	model, memory, device, precision string
	seq, batch, rank                 int
	tokens                           int64
	targets                          []string
	dropout, tflops                  float64
	threads                          int
	json                             bool
}

func init() {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan --model DIR|REPO [--memory 24GiB] [--device cpu|cuda] [--seq 2048 --batch 4]",
		Short: "Estimate memory and time of full, LoRA and QLoRA training, and recommend what fits",
		Long: `Estimate, from the model's config.json alone, the peak memory and the time per
epoch of full fine-tuning, LoRA and QLoRA: weights, fp32 master weights,
gradients, Adam's moments, activations with and without gradient checkpointing,
logits and LoRA's buffers. For each technique the largest micro-batch that fits
is chosen (gradient accumulation makes up --batch), with checkpointing only when
needed; then one technique is recommended, with the reasons.

--device cuda describes bf16 mixed-precision training (the setup of the
published figures: a 7B model needs about 6 GB with QLoRA, 16 GB with LoRA,
120 GB fully fine-tuned); --device cpu describes hone's CPU trainer, and its
throughput is measured on this machine. A Hub id for --model fetches only its
config.json.`,
		Example: `  hone plan --model meta-llama/Llama-3.1-8B --device cuda --memory 24GiB
  hone plan --model ./SmolLM2-135M --seq 1024 --batch 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runPlan(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder or Hub id org/name[@revision] (required)")
	fl.StringVar(&f.memory, "memory", "", "memory budget, e.g. 24GiB (default: 24GiB on cuda, this machine's RAM on cpu)")
	fl.StringVar(&f.device, "device", "cpu", "cpu (hone's trainer) or cuda (bf16 mixed precision)")
	fl.StringVar(&f.precision, "precision", "fp32", "cpu: how frozen weights are held, fp32 or bf16")
	fl.IntVar(&f.seq, "seq", 2048, "sequence length")
	fl.IntVar(&f.batch, "batch", 4, "sequences per optimizer step (micro-batch × accumulation)")
	fl.Int64Var(&f.tokens, "tokens", 10_000_000, "training tokens per epoch")
	fl.IntVar(&f.rank, "rank", 16, "LoRA rank")
	fl.StringSliceVar(&f.targets, "targets", []string{"all-linear"}, "LoRA target modules (q_proj,...,down_proj or all-linear)")
	fl.Float64Var(&f.dropout, "dropout", 0.05, "LoRA dropout")
	fl.Float64Var(&f.tflops, "tflops", 0, "sustained TFLOP/s (default: 100 on cuda, measured on cpu)")
	fl.IntVar(&f.threads, "threads", 0, "cpu threads for the measurement and the run (0: one per core)")
	fl.BoolVar(&f.json, "json", false, "print the plan as JSON")
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

func runPlan(cmd *cobra.Command, f *planFlags) error {
	var budget int64
	if f.memory != "" {
		b, err := plan.ParseBytes(f.memory)
		if err != nil {
			return withCode(2, fmt.Errorf("--memory: %w", err))
		}
		budget = b
	}
	var prof plan.Profile
	measured := false
	switch f.device {
	case "cuda":
		if budget == 0 {
			budget = 24 << 30
		}
		flops := 100e12
		if f.tflops > 0 {
			flops = f.tflops * 1e12
		}
		prof = plan.Torch(flops)
	case "cpu":
		if f.precision != "fp32" && f.precision != "bf16" {
			return withCode(2, fmt.Errorf("--precision %q: want fp32 or bf16", f.precision))
		}
		if budget == 0 {
			b, err := totalRAM()
			if err != nil {
				return withCode(2, fmt.Errorf("cannot read this machine's memory (%v); give --memory", err))
			}
			budget = b
		}
		flops := f.tflops * 1e12
		if flops <= 0 {
			dt := tensor.F32
			if f.precision == "bf16" {
				dt = tensor.BF16
			}
			flops = plan.MeasureFLOPS(newEngine(f.threads), dt, 300*time.Millisecond)
			measured = true
		}
		prof = plan.Hone(f.precision == "bf16", flops)
	default:
		return withCode(2, fmt.Errorf("--device %q: want cpu or cuda", f.device))
	}
	dir, err := resolveConfigOnly(f.model)
	if err != nil {
		return err
	}
	sh, err := plan.LoadShape(dir)
	if err != nil {
		return err
	}
	sh.Name = f.model
	req := plan.Request{Profile: prof, Memory: budget, Seq: f.seq, Batch: f.batch, EpochTokens: f.tokens,
		Rank: f.rank, Targets: f.targets, Dropout: f.dropout, Headroom: 0.05}
	if f.device == "cpu" {
		req.Headroom = 0.10 // the OS, page cache and the Go collector's slack
	}
	p, err := plan.Recommend(sh, req)
	if err != nil {
		return withCode(2, err)
	}
	w := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	printPlan(w, p, measured)
	return nil
}

// resolveConfigOnly returns a folder holding the model's config.json: the
// folder itself, or for a Hub id its snapshot with only config.json pulled.
func resolveConfigOnly(model string) (string, error) {
	o := hub.FromEnv()
	o.Include = []string{"config.json"}
	return hub.Resolve(context.Background(), model, o)
}

// totalRAM reads MemTotal from /proc/meminfo.
func totalRAM() (int64, error) {
	fd, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer fd.Close()
	sc := bufio.NewScanner(fd)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: MemTotal %q", rest)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal line")
}

func printPlan(w io.Writer, p *plan.Plan, measured bool) {
	sh, r := p.Shape, p.Request
	fmt.Fprintf(w, "model:  %s: %.2fB parameters (hidden %d, %d layers, %d/%d heads, vocab %d)\n",
		sh.Name, float64(sh.Params)/1e9, sh.Hidden, sh.Layers, sh.Heads, sh.KVHeads, sh.Vocab)
	how := "assumed"
	if measured {
		how = "measured here"
	}
	fmt.Fprintf(w, "device: %s, %s budget (%.0f%% kept free), %.2f TFLOP/s sustained (%s)\n", r.Profile.Name, plan.ByteString(r.Memory), 100*r.Headroom, r.Profile.FLOPS/1e12, how)
	fmt.Fprintf(w, "run:    seq %d, batch %d, %.1fM tokens an epoch; LoRA rank %d on %s, dropout %g\n\n",
		r.Seq, r.Batch, float64(r.EpochTokens)/1e6, r.Rank, strings.Join(r.Targets, ","), r.Dropout)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "technique\tfits\tpeak\tweights\tgrads+optimizer\tactivations\tlogits\tsettings\ttime/epoch")
	for _, e := range p.Options {
		m := e.Memory
		fits := "no"
		if e.Fits {
			fits = "yes"
		}
		settings := fmt.Sprintf("micro-batch %d × %d", e.Setup.MicroBatch, e.Setup.Accum)
		if e.Setup.Checkpointing {
			settings += ", checkpointing"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Setup.Technique, fits, plan.ByteString(m.Peak()),
			plan.ByteString(m.Weights+m.Master), plan.ByteString(m.Gradients+m.Optimizer+m.Adapter),
			plan.ByteString(m.Activations), plan.ByteString(m.Logits), settings, plan.DurationString(e.EpochTime))
	}
	tw.Flush()
	fmt.Fprintf(w, "\ngeneration KV cache at %d tokens: %s\n\n", r.Seq, plan.ByteString(p.KVCache))
	if p.Choice == "" {
		fmt.Fprintln(w, "recommendation: none fits")
	} else {
		fmt.Fprintf(w, "recommendation: %s\n", p.Choice)
	}
	for _, s := range p.Reasons {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	if p.Choice != "" {
		e := p.Option(p.Choice)
		fmt.Fprintf(w, "\nrecipe keys (hone train):\n  technique: %s\n", p.Choice)
		if r.Profile.Device == "cpu" {
			prec := "fp32"
			if r.Profile.Frozen == 2 {
				prec = "bf16"
			}
			fmt.Fprintf(w, "  precision: %s\n", prec)
		}
		if p.Choice != plan.Full {
			fmt.Fprintf(w, "  lora: {r: %d, dropout: %g, targets: [%s]}\n", e.Setup.Rank, e.Setup.Dropout, strings.Join(e.Setup.Targets, ", "))
		}
		fmt.Fprintf(w, "  data: {max_seq_len: %d}\n  train: {batch_size: %d, grad_accum: %d, gradient_checkpointing: %v}\n",
			e.Setup.Seq, e.Setup.MicroBatch, e.Setup.Accum, e.Setup.Checkpointing)
	}
}
