package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hone/bench"
	"hone/compute/cpu"
	"hone/model"
	"hone/tensor"
)

// benchGemmFlags are the flags of `hone bench gemm`.
type benchGemmFlags struct {
	threads   int
	shapes    []string
	minTime   time.Duration
	precision string
	tokens    int
}

// benchModelFlags pick the model of `hone bench train|generate`.
type benchModelFlags struct {
	shape     string
	dir       string
	precision string
	threads   int
}

func (f *benchModelFlags) register(cmd *cobra.Command, precision string) {
	fl := cmd.Flags()
	fl.StringVar(&f.shape, "shape", "smollm2-135m", "model shape with random weights: "+strings.Join(bench.Shapes(), ", "))
	fl.StringVar(&f.dir, "model", "", "model folder (Hugging Face layout) or Hub id to use instead of a shape")
	fl.StringVar(&f.precision, "precision", precision, "weight precision: fp32 or bf16")
	fl.IntVar(&f.threads, "threads", 0, "compute threads (0: one per core)")
}

// load returns the model, its name and a function releasing it.
func (f *benchModelFlags) load(cmd *cobra.Command) (*model.Model, model.Precision, string, func() error, error) {
	prec, err := model.ParsePrecision(f.precision)
	if err != nil {
		return nil, 0, "", nil, withCode(2, fmt.Errorf("--precision: %w", err))
	}
	if f.threads < 0 {
		return nil, 0, "", nil, withCode(2, fmt.Errorf("--threads %d: must be 0 or more", f.threads))
	}
	if f.dir != "" {
		if cmd.Flags().Changed("shape") {
			return nil, 0, "", nil, withCode(2, fmt.Errorf("--shape and --model exclude each other"))
		}
		dir, err := resolveModel(f.dir)
		if err != nil {
			return nil, 0, "", nil, withCode(2, err)
		}
		m, closer, err := model.Load(dir, prec)
		if err != nil {
			return nil, 0, "", nil, withCode(2, err)
		}
		return m, prec, f.dir, closer, nil
	}
	c, err := bench.Shape(f.shape)
	if err != nil {
		return nil, 0, "", nil, withCode(2, fmt.Errorf("--shape: %w", err))
	}
	return bench.RandomModel(c, prec, 0.02, 1), prec, f.shape + " (random weights)", func() error { return nil }, nil
}

func init() {
	var g benchGemmFlags
	gemmLong := `Measure the CPU engine's matrix products (C = A·Bᵀ, a linear layer's forward)
with B in float32 and/or bfloat16, and print the best time, GFLOP/s and the
fraction of the engine's peak (its speed on a 1024³ product). The default
shapes are those of a small Llama over 512 tokens; --shape MxKxN measures
others, and --shape MODEL (e.g. smollm2-135m) the products of that model's
layers over --tokens tokens. Other load on the machine only slows a run down,
so the best of the repetitions is reported.`
	benchCmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure speed: matrix products (default), training steps, generation",
		Long: gemmLong + `

The subcommands measure more: "hone bench train" times LoRA training steps and
"hone bench generate" decoding, at the shapes of real models.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBenchGemm(cmd, &g) },
	}
	registerGemm(benchCmd, &g)
	var g2 benchGemmFlags
	gemmCmd := &cobra.Command{
		Use:   "gemm",
		Short: "Measure the engine's matrix-product speed",
		Long:  gemmLong,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runBenchGemm(cmd, &g2) },
	}
	registerGemm(gemmCmd, &g2)

	var tf benchModelFlags
	var to bench.TrainOptions
	trainCmd := &cobra.Command{
		Use:   "train",
		Short: "Time LoRA training steps at a model's shape",
		Long: `Time LoRA training steps: batches of random tokens through the model (frozen
weights at --precision, LoRA of --rank and --alpha on all seven projections of
every layer, float32 activations), the loss over every position, the backward
and an AdamW update. Prints each step, then the median step's tokens/s and
GFLOP/s, the fraction of the engine's peak at that precision, the activation
memory and the process's peak resident memory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBenchTrain(cmd, &tf, to) },
	}
	tf.register(trainCmd, "fp32")
	fl := trainCmd.Flags()
	fl.IntVar(&to.Seq, "seq", 256, "tokens per sequence")
	fl.IntVar(&to.Batch, "batch", 1, "sequences per step")
	fl.IntVar(&to.Rank, "rank", 8, "LoRA rank")
	fl.Float64Var(&to.Alpha, "alpha", 16, "LoRA alpha")
	fl.IntVar(&to.Steps, "steps", 5, "timed steps")
	fl.IntVar(&to.Warmup, "warmup", 1, "untimed steps first")
	fl.BoolVar(&to.Checkpoint, "checkpoint", false, "gradient checkpointing (recompute each layer in backward)")
	fl.Uint64Var(&to.Seed, "seed", 1, "seed of the tokens and adapters")

	var gf benchModelFlags
	var gopt bench.GenerateOptions
	genCmd := &cobra.Command{
		Use:   "generate",
		Short: "Time decoding against the memory-bandwidth limit",
		Long: `Time generation of one sequence: a random prompt of --prompt tokens prefilled
at once, then --tokens tokens decoded greedily with the KV cache. After each
token, every weight a token reads is read once more at full speed: decoding
is bound by that read, so its time is the limit the decoding speed is
compared with, measured side by side. Prints prefill and decode tokens/s,
the bandwidth, the limit, the fraction of it reached and the peak resident
memory; with more than one thread also what one thread reads (timed after
each token too) and the round trip of a cache line between two threads,
which tell how the machine placed them (on a VM, two vCPUs on one CCD of an
EPYC share its L3 and memory link: one thread reads nearly as fast as two
and a handoff is fast; on two CCDs two threads read up to twice as fast but
every handoff takes several times as long).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBenchGenerate(cmd, &gf, gopt) },
	}
	gf.register(genCmd, "bf16")
	fl = genCmd.Flags()
	fl.IntVar(&gopt.Prompt, "prompt", 16, "prompt tokens")
	fl.IntVar(&gopt.Tokens, "tokens", 64, "tokens to decode")
	fl.Uint64Var(&gopt.Seed, "seed", 1, "seed of the prompt")

	benchCmd.AddCommand(gemmCmd, trainCmd, genCmd)
	rootCmd.AddCommand(benchCmd)
}

func registerGemm(cmd *cobra.Command, f *benchGemmFlags) {
	fl := cmd.Flags()
	fl.IntVar(&f.threads, "threads", 0, "threads to run on (0: one per core)")
	fl.StringArrayVar(&f.shapes, "shape", nil, "a product MxKxN, or a model shape ("+strings.Join(bench.Shapes(), ", ")+"), to measure (repeatable)")
	fl.DurationVar(&f.minTime, "time", time.Second, "how long to repeat each product")
	fl.StringVar(&f.precision, "precision", "both", "dtype of B: fp32, bf16 or both")
	fl.IntVar(&f.tokens, "tokens", 256, "rows (tokens) of the products of a model shape")
}

// parseShape reads "MxKxN".
func parseShape(s string) ([3]int, error) {
	parts := strings.Split(strings.ToLower(s), "x")
	var out [3]int
	if len(parts) != 3 {
		return out, fmt.Errorf("--shape %q: want MxKxN, e.g. 512x576x1536, or a model shape (%s)", s, strings.Join(bench.Shapes(), ", "))
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v <= 0 {
			return out, fmt.Errorf("--shape %q: %q is not a positive integer", s, p)
		}
		out[i] = v
	}
	return out, nil
}

func runBenchGemm(cmd *cobra.Command, f *benchGemmFlags) error {
	if f.threads < 0 {
		return withCode(2, fmt.Errorf("--threads %d: must be 0 or more", f.threads))
	}
	if f.tokens <= 0 {
		return withCode(2, fmt.Errorf("--tokens %d: must be positive", f.tokens))
	}
	cfg := cpu.BenchConfig{Threads: f.threads, MinTime: f.minTime}
	switch strings.ToLower(f.precision) {
	case "both":
		cfg.DTypes = []tensor.DType{tensor.F32, tensor.BF16}
	default:
		p, err := model.ParsePrecision(f.precision)
		if err != nil {
			return withCode(2, fmt.Errorf("--precision: %w (or both)", err))
		}
		cfg.DTypes = []tensor.DType{bench.DType(p)}
	}
	for _, s := range f.shapes {
		if c, err := bench.Shape(s); err == nil {
			cfg.Shapes = append(cfg.Shapes, bench.Products(c, f.tokens)...)
			continue
		}
		sh, err := parseShape(s)
		if err != nil {
			return withCode(2, err)
		}
		cfg.Shapes = append(cfg.Shapes, sh)
	}
	out := cmd.OutOrStdout()
	printMachine(out, f.threads)
	peak := map[tensor.DType]float64{}
	for _, dt := range cfg.DTypes {
		p, err := bench.PeakGFLOPS(f.threads, dt, min(f.minTime, time.Second))
		if err != nil {
			return withCode(2, err)
		}
		peak[dt] = p
		fmt.Fprintf(out, "peak %v: %.1f GFLOP/s (%dx%dx%d)\n", dt, p, bench.PeakShape[0], bench.PeakShape[1], bench.PeakShape[2])
	}
	fmt.Fprintf(out, "%5s %5s %6s %-4s %10s %8s\n", "M", "K", "N", "B", "best", "speed")
	name, res, err := cpu.Bench(cfg, func(r cpu.BenchResult) {
		fmt.Fprintf(out, "%v %5.1f%% of peak\n", r, 100*r.GFLOPS/peak[r.DType])
	})
	if err != nil {
		return withCode(2, err)
	}
	if len(cfg.DTypes) == 2 {
		for i := 0; i+1 < len(res); i += 2 {
			fmt.Fprintf(out, "%dx%dx%d: bf16 is %.2fx f32\n", res[i].M, res[i].K, res[i].N, res[i+1].GFLOPS/res[i].GFLOPS)
		}
	}
	fmt.Fprintf(out, "engine %s\n", name)
	return nil
}

func printMachine(out io.Writer, threads int) {
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	fmt.Fprintf(out, "threads %d of %d cores, %s/%s\n", threads, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

func printPeakRSS(out io.Writer) {
	if rss, ok := bench.PeakRSS(); ok {
		fmt.Fprintf(out, "peak RSS %.0f MiB\n", float64(rss)/(1<<20))
	}
}

func runBenchTrain(cmd *cobra.Command, f *benchModelFlags, o bench.TrainOptions) error {
	m, prec, name, closer, err := f.load(cmd)
	if err != nil {
		return err
	}
	defer closer()
	out := cmd.OutOrStdout()
	e := cpu.New(f.threads)
	defer e.Close()
	printMachine(out, f.threads)
	fmt.Fprintf(out, "model %s: %.1fM parameters, %s weights; LoRA r%d alpha %g on all projections; %d x %d tokens; engine %s\n",
		name, float64(m.Config.NumParams())/1e6, prec, o.Rank, o.Alpha, o.Batch, o.Seq, e.Name())
	res, err := bench.Train(e, m, o, func(s bench.StepReport) {
		tag := ""
		if s.Warmup {
			tag = " (warm-up)"
		}
		fmt.Fprintf(out, "step %d%s %.3fs loss %.4f\n", s.Step, tag, s.Time.Seconds(), s.Loss)
	})
	if err != nil {
		return withCode(2, err)
	}
	peak, err := bench.PeakGFLOPS(f.threads, bench.DType(prec), 300*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "trainable %.3fM, activations %.1f MiB, %.1f GFLOP a step\n",
		float64(res.TrainableParams)/1e6, float64(res.ActivationBytes)/(1<<20), res.FLOPs/1e9)
	fmt.Fprintf(out, "median step %.3fs: %.1f tokens/s, %.1f GFLOP/s = %.0f%% of peak %s (%.1f GFLOP/s)\n",
		res.Median.Seconds(), res.TokensPerSec, res.GFLOPS, 100*res.GFLOPS/peak, prec, peak)
	printPeakRSS(out)
	return nil
}

func runBenchGenerate(cmd *cobra.Command, f *benchModelFlags, o bench.GenerateOptions) error {
	m, prec, name, closer, err := f.load(cmd)
	if err != nil {
		return err
	}
	defer closer()
	out := cmd.OutOrStdout()
	e := cpu.New(f.threads)
	defer e.Close()
	if e.Threads() > 1 {
		one := cpu.New(1)
		defer one.Close()
		o.OneThread = one
	}
	printMachine(out, f.threads)
	fmt.Fprintf(out, "model %s: %.1fM parameters, %s weights; engine %s\n", name, float64(m.Config.NumParams())/1e6, prec, e.Name())
	res, err := bench.Generate(e, m, o)
	if err != nil {
		return withCode(2, err)
	}
	fmt.Fprintf(out, "prefill %d tokens: %.3fs, %.1f tokens/s\n", o.Prompt, res.Prefill.Seconds(), res.PrefillTokensPerSec)
	fmt.Fprintf(out, "decode %d tokens: median %.2f ms, %.1f tokens/s\n", o.Tokens, res.DecodeMedian.Seconds()*1000, res.TokensPerSec)
	fmt.Fprintf(out, "weights read a token %.1f MB: median %.2f ms, %.1f GB/s, limit %.1f tokens/s\n",
		float64(res.StreamBytes)/1e6, res.StreamMedian.Seconds()*1000, res.BandwidthGBs, res.LimitTokensPerSec)
	fmt.Fprintf(out, "decode at %.0f%% of the bandwidth limit; per token, against the read after it: median %.0f%% (quartiles %.0f-%.0f%%)\n",
		100*res.OfLimit, 100*res.PairedMedian, 100*res.PairedLow, 100*res.PairedHigh)
	if res.CacheBytes*100 >= res.StreamBytes {
		fmt.Fprintf(out, "with the KV cache a token reads %.1f MB more (mean): limit %.1f tokens/s, decode at %.0f%% of it\n",
			float64(res.CacheBytes)/1e6, res.CacheLimitTokensPerSec, 100*res.OfCacheLimit)
	}
	if res.OneThreadGBs > 0 {
		fmt.Fprintf(out, "one thread reads %.1f GB/s, %.0f%% of what %d read", res.OneThreadGBs, 100*res.OneThreadGBs/res.BandwidthGBs, e.Threads())
		if rt, ok := bench.RoundTrip(); ok {
			fmt.Fprintf(out, "; a cache line's round trip between two threads %d ns", rt.Nanoseconds())
		}
		fmt.Fprintln(out)
	}
	printPeakRSS(out)
	return nil
}
