package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"hone/eval"
	"hone/recipe"
)

func init() {
	var o recipe.QuickstartOptions
	cmd := &cobra.Command{
		Use:   "quickstart [--out DIR]",
		Short: "Run the whole workflow offline on hone's own tiny model: check data, LoRA, evaluate, merge, export",
		Long: `Run hone's whole workflow on the small base model and data the repository ships
(examples/tiny-base, examples/quickstart): the task is to make the model answer only
with the JSON facts of a story. It checks the data, fine-tunes with LoRA (validation
split, early stopping, mixed-in general text against forgetting), evaluates base
against tuned (JSON validity, schema conformance, field accuracy, general
perplexity), then merges the adapter and exports Hugging Face and GGUF folders,
each checked for parity with the tuned model. No network is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			start := time.Now()
			p := newProgress(cmd.ErrOrStderr())
			res, err := recipe.Quickstart(ctx, o, p)
			p.done()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "\nquickstart finished in %s\n\n", time.Since(start).Round(time.Second))
			if rep := res.Report; rep != nil {
				fmt.Fprintf(w, "%-22s %10s %10s\n", "on the held-out test", "base", "tuned")
				for _, n := range eval.MetricNames(rep.Tuned.Metrics) {
					fmt.Fprintf(w, "%-22s %9.1f%% %9.1f%%\n", n, 100*rep.Base.Metrics[n], 100*rep.Tuned.Metrics[n])
				}
				if rep.Base.GeneralPPL > 0 {
					fmt.Fprintf(w, "%-22s %10.3f %10.3f (%+.1f%%)\n", "general perplexity", rep.Base.GeneralPPL, rep.Tuned.GeneralPPL, 100*rep.GeneralChange)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "report:   %s\nadapter:  %s\nmerged:   %s\ngguf:     %s\n", res.Run.ReportPath, res.Run.Adapter, res.Merged, res.GGUF)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Out, "out", "runs/quickstart", "output folder")
	cmd.Flags().StringVar(&o.Examples, "examples", "examples", "the repository's examples folder")
	cmd.Flags().StringArrayVar(&o.Overrides, "set", nil, "override a key of examples/quickstart.yaml: key=value (repeatable)")
	rootCmd.AddCommand(cmd)
}
