package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hone/hub"
)

func init() {
	var include []string
	var cacheDir string
	var offline bool
	cmd := &cobra.Command{
		Use:   "pull REPO[@REVISION]",
		Short: "Download a model from the Hugging Face Hub into the shared cache",
		Long: `Download a model (config, generation config, tokenizer files, chat template and
safetensors weights, sharded or not) from the Hugging Face Hub into the cache the
Python libraries use, and print the snapshot folder, which every --model accepts.

The cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub:
files pulled by transformers or huggingface-cli are reused, and what hone pulls
is found by them. Downloads resume after an interruption, are retried with
backoff, and are checked against the Hub's sha256 before entering the cache.

Environment: HF_TOKEN (or the token file of huggingface-cli login) for gated and
private repositories; HF_ENDPOINT for a mirror; HF_HUB_OFFLINE=1 to use only
the cache. REVISION is a branch, tag or commit (default main).`,
		Example: `  hone pull HuggingFaceTB/SmolLM2-135M
  hone pull Qwen/Qwen2.5-0.5B-Instruct@main
  HF_TOKEN=hf_... hone pull meta-llama/Llama-3.2-1B`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := hub.ParseRef(args[0])
			if err != nil {
				return withCode(2, err)
			}
			o := hub.FromEnv()
			if cacheDir != "" {
				o.CacheDir = cacheDir
			}
			if offline {
				o.Offline = true
			}
			o.Include = include
			bar := newPullBar(cmd.ErrOrStderr())
			o.Progress = bar
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			snap, err := hub.Download(ctx, ref, o)
			bar.clear()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("interrupted; run the same command again to resume")
				}
				return err
			}
			hasWeights := false
			for _, f := range snap.Files {
				if strings.HasSuffix(f, ".safetensors") {
					hasWeights = true
				}
			}
			if !hasWeights && len(include) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "hone: warning: %s has no .safetensors weights; hone cannot load PyTorch .bin checkpoints\n", ref)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "hone: %s at %s: %d files, %d downloaded (%s), %d already cached\n",
				ref, snap.Commit[:12], len(snap.Files), snap.Downloaded, byteSize(snap.Bytes), snap.Cached)
			fmt.Fprintln(cmd.OutOrStdout(), snap.Dir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&include, "include", nil, "download only files matching this glob (repeatable; default: config, tokenizer, template and safetensors files at the top level)")
	fl.StringVar(&cacheDir, "cache-dir", "", "hub cache folder (default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)")
	fl.BoolVar(&offline, "offline", false, "use only the cache, as HF_HUB_OFFLINE=1 does")
	rootCmd.AddCommand(cmd)
}

// pullBar shows download progress: a redrawn bar with rate and ETA per file
// on a terminal, a line per file (and per retry) otherwise.
type pullBar struct {
	w       io.Writer
	tty     bool
	shown   bool
	start   time.Time
	from    int64
	lastRun time.Time
}

func newPullBar(w io.Writer) *pullBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &pullBar{w: w, tty: tty}
}

func (b *pullBar) clear() {
	if b.shown {
		fmt.Fprint(b.w, "\r\033[K")
		b.shown = false
	}
}

// OnEvent implements hub.Progress.
func (b *pullBar) OnEvent(e hub.Event) {
	switch e.Kind {
	case hub.FileStart:
		b.start, b.from = time.Now(), e.Done
		if !b.tty {
			resumed := ""
			if e.Done > 0 {
				resumed = fmt.Sprintf(", resuming at %s", byteSize(e.Done))
			}
			fmt.Fprintf(b.w, "downloading %s (%s%s)\n", e.File, byteSize(e.Total), resumed)
		}
	case hub.Bytes:
		if !b.tty || time.Since(b.lastRun) < 100*time.Millisecond {
			return
		}
		b.lastRun = time.Now()
		el := time.Since(b.start).Seconds()
		rate := float64(e.Done-b.from) / max(el, 1e-3)
		const width = 24
		filled, eta := width, ""
		if e.Total > 0 {
			filled = int(int64(width) * e.Done / e.Total)
			if rate > 0 {
				eta = " ETA " + time.Duration(float64(e.Total-e.Done)/rate*float64(time.Second)).Round(time.Second).String()
			}
		}
		fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %s/%s %s/s%s", e.File, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			byteSize(e.Done), byteSize(e.Total), byteSize(int64(rate)), eta)
		b.shown = true
	case hub.FileDone:
		b.clear()
		fmt.Fprintf(b.w, "%s: %s, checksum verified\n", e.File, byteSize(e.Total))
	case hub.FileCached:
		if !b.tty {
			fmt.Fprintf(b.w, "%s: in the cache\n", e.File)
		}
	case hub.Retry:
		b.clear()
		fmt.Fprintf(b.w, "hone: %v; retry %d in %s\n", e.Err, e.Attempt, e.Wait.Round(time.Millisecond))
	case hub.Note:
		b.clear()
		fmt.Fprintf(b.w, "hone: %s\n", e.Message)
	}
}
