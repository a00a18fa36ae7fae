package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hone/compute/cpu"
)

type benchFlags struct {
	threads int
	shapes  []string
	minTime time.Duration
}

func init() {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the compute engine's matrix-product speed on this machine",
		Long: `Measure the CPU engine's matrix products (C = A·Bᵀ, a linear layer's forward)
with B in float32 and in bfloat16, and print the best time and GFLOP/s of each.
The default shapes are those of a small Llama over 512 tokens; --shape MxKxN
(repeatable) measures others. Other load on the machine only slows a run down,
so the best of the repetitions is reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.threads, "threads", 0, "threads to run on (0: one per core)")
	fl.StringArrayVar(&f.shapes, "shape", nil, "a product MxKxN to measure (repeatable)")
	fl.DurationVar(&f.minTime, "time", time.Second, "how long to repeat each product")
	rootCmd.AddCommand(cmd)
}

// parseShape reads "MxKxN".
func parseShape(s string) ([3]int, error) {
	parts := strings.Split(strings.ToLower(s), "x")
	var out [3]int
	if len(parts) != 3 {
		return out, fmt.Errorf("--shape %q: want MxKxN, e.g. 512x576x1536", s)
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

func runBench(cmd *cobra.Command, f *benchFlags) error {
	cfg := cpu.BenchConfig{Threads: f.threads, MinTime: f.minTime}
	if f.threads < 0 {
		return withCode(2, fmt.Errorf("--threads %d: must be 0 or more", f.threads))
	}
	for _, s := range f.shapes {
		sh, err := parseShape(s)
		if err != nil {
			return withCode(2, err)
		}
		cfg.Shapes = append(cfg.Shapes, sh)
	}
	threads := f.threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "threads %d, %s/%s\n", threads, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "%5s %5s %6s %-4s %10s %8s\n", "M", "K", "N", "B", "best", "speed")
	name, res, err := cpu.Bench(cfg, func(r cpu.BenchResult) { fmt.Fprintln(out, r) })
	if err != nil {
		return withCode(2, err)
	}
	for i := 0; i+1 < len(res); i += 2 {
		fmt.Fprintf(out, "%dx%dx%d: bf16 is %.2fx f32\n", res[i].M, res[i].K, res[i].N, res[i+1].GFLOPS/res[i].GFLOPS)
	}
	fmt.Fprintf(out, "engine %s\n", name)
	return nil
}
