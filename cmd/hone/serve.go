package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"hone/chat"
	"hone/lora"
	"hone/model"
	"hone/serve"
	"hone/tokenizer"
)

type serveFlags struct {
	model, name, addr, precision string
	adapters, apiKeys            []string
	threads, maxBatch, queue     int
	maxTokens                    int
	maxBody                      int64
	shutdownTimeout              time.Duration
}

func init() {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --model DIR [--adapter NAME=DIR ...] [--addr 127.0.0.1:8080]",
		Short: "Serve a model and its adapters over an OpenAI-compatible HTTP API",
		Long: `Serve a model over an OpenAI-compatible HTTP API: /v1/chat/completions (the
model's chat template applied server-side; ChatML when it has none),
/v1/completions and /v1/models, with streaming, stop sequences, max_tokens,
temperature/top_p/seed, usage counts and response_format json_object or
json_schema (constrained decoding: the output is valid JSON for the schema).

Each --adapter NAME=DIR loads a LoRA adapter (PEFT folder) over the same copy
of the base weights; requests pick it with "model": "BASE:NAME", the base
with "model": "BASE" (BASE is --name, by default the model folder's name,
or the Hub id as given when --model is one).
Concurrent requests are decoded together (continuous batching, up to
--max-batch); beyond --queue waiting requests the answer is 429. With
--api-key (repeatable) or $HONE_API_KEY (comma-separated), /v1/ requires
"Authorization: Bearer KEY" (401 otherwise). /healthz answers ok, /metrics
serves Prometheus metrics. SIGINT or SIGTERM stops accepting requests, lets
those in flight finish (up to --shutdown-timeout) and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder (Hugging Face layout) or Hub id org/name[@revision] (required)")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "NAME=DIR: serve the LoRA adapter in DIR as model BASE:NAME (repeatable)")
	fl.StringVar(&f.name, "name", "", "the base model's name in the API (default: the model folder's name, or the Hub id)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fl.StringArrayVar(&f.apiKeys, "api-key", nil, "accept this bearer token (repeatable; also $HONE_API_KEY)")
	fl.StringVar(&f.precision, "precision", "fp32", "compute precision: fp32 or bf16")
	fl.IntVar(&f.threads, "threads", 0, "compute threads (0: one per core)")
	fl.IntVar(&f.maxBatch, "max-batch", 32, "most sequences decoded together")
	fl.IntVar(&f.queue, "queue", 64, "most requests waiting for a place in the batch (then 429)")
	fl.IntVar(&f.maxTokens, "max-tokens", 512, "max_tokens when a request does not say")
	fl.Int64Var(&f.maxBody, "max-request-bytes", 8<<20, "largest request body (then 413)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish at shutdown")
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if f.maxBatch <= 0 || f.queue <= 0 || f.maxTokens <= 0 || f.maxBody <= 0 {
		return withCode(2, fmt.Errorf("--max-batch, --queue, --max-tokens and --max-request-bytes must be positive"))
	}
	adapterDirs := map[string]string{}
	for _, a := range f.adapters {
		name, dir, ok := strings.Cut(a, "=")
		if !ok || name == "" || dir == "" || strings.ContainsAny(name, ": \t") {
			return withCode(2, fmt.Errorf("--adapter %q: want NAME=DIR with a NAME free of ':' and blanks", a))
		}
		if _, dup := adapterDirs[name]; dup {
			return withCode(2, fmt.Errorf("--adapter: the name %q is given twice", name))
		}
		adapterDirs[name] = dir
	}
	keys := f.apiKeys
	if env := os.Getenv("HONE_API_KEY"); env != "" {
		for _, k := range strings.Split(env, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	prec, err := model.ParsePrecision(f.precision)
	if err != nil {
		return withCode(2, err)
	}
	dir, err := resolveModel(f.model)
	if err != nil {
		return err
	}
	m, closer, err := model.Load(dir, prec)
	if err != nil {
		return err
	}
	defer closer()
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	tmpl, err := chat.Load(dir)
	if err != nil {
		log.Warn("no usable chat template in the model folder; using ChatML", "model", dir, "reason", err)
		if tmpl, err = chat.Named("chatml"); err != nil {
			return err
		}
	}
	gen, err := model.LoadGenerationConfig(dir, m.Config)
	if err != nil {
		return err
	}
	var stops []int32
	for _, id := range gen.EOS {
		stops = append(stops, int32(id))
	}
	if id, ok := tok.EOS(); ok {
		stops = append(stops, id)
	}
	variants := map[string]*model.Model{}
	for name, dir := range adapterDirs {
		v := serve.ShareBase(m)
		if _, err := lora.Load(dir, v); err != nil {
			return fmt.Errorf("--adapter %s=%s: %w", name, dir, err)
		}
		variants[name] = v
	}
	name := f.name
	if name == "" {
		name = defaultServeName(f.model, dir)
	}
	srv, err := serve.New(serve.Config{Name: name, MaxBatch: f.maxBatch, QueueSize: f.queue, MaxRequestBytes: f.maxBody,
		DefaultMaxTokens: f.maxTokens, APIKeys: keys, Log: log},
		serve.Backend{Tokenizer: tok, Template: tmpl, Engine: newEngine(f.threads), Base: m, Adapters: variants, StopIDs: stops})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return withCode(2, fmt.Errorf("--addr %s: %w", f.addr, err))
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "models", strings.Join(srv.Models(), ","),
		"template", tmpl.Name, "api_keys", len(keys))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down", "timeout", f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	drained := make(chan struct{})
	go func() { srv.Shutdown(sctx.Done()); close(drained) }()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	<-drained
	log.Info("stopped")
	return nil
}

// defaultServeName is the API name of the base model when --name is not
// given: the Hub id as the user wrote it when --model was resolved to a
// cache snapshot (whose folder is named by a commit hash), else the name
// of the model folder.
func defaultServeName(flag, dir string) string {
	if filepath.Clean(flag) != filepath.Clean(dir) {
		return flag
	}
	abs, _ := filepath.Abs(dir)
	return filepath.Base(abs)
}
