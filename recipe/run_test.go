package recipe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/data"
	"hone/model"
	"hone/tensor"
	"hone/tokenizer"
	"hone/train"
)

// tinyModel saves a one-layer model with hone's tiny tokenizer (ChatML
// template, 1893 tokens) and a context of maxPos tokens, and returns its
// folder.
func tinyModel(t *testing.T, maxPos int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "tiny-init", name))
		if err != nil {
			t.Skipf("the tiny tokenizer is missing: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16,
"intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
"head_dim": 8, "vocab_size": 1893, "max_position_embeddings": %d, "rms_norm_eps": 1e-05,
"rope_theta": 10000.0, "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": 1}`, maxPos)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Save(dir, c, model.Init(c, 0.02, 1), tensor.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chatRow is a one-turn conversation as a JSONL line.
func chatRow(user, assistant string) string {
	b, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": user}, {"role": "assistant", "content": assistant}}})
	return string(b) + "\n"
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tinyRecipe writes training data and returns a recipe for a two-step
// LoRA run on the tiny model, without the final evaluation.
func tinyRecipe(t *testing.T, modelDir string) *Recipe {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 8; i++ {
		b.WriteString(chatRow(fmt.Sprintf("What is %d plus one?", i), fmt.Sprint(i+1)))
	}
	r := Default()
	r.Model, r.Precision, r.Output = modelDir, "fp32", filepath.Join(dir, "run")
	r.Data.Train = []string{writeFile(t, filepath.Join(dir, "train.jsonl"), b.String())}
	r.Data.ValFraction = 0.25
	r.LoRA.R, r.LoRA.Alpha = 2, 4
	r.Train.MaxSteps, r.Train.BatchSize, r.Train.Threads = 2, 2, 1
	r.Eval.Skip = true
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

// events records a run's stages and notes.
type events struct {
	train.Observers
	lines []string
}

func (e *events) Stage(s string) { e.lines = append(e.lines, s) }
func (e *events) Note(s string)  { e.lines = append(e.lines, s) }

// TestRunFolder: a new run into a folder that holds a run is refused
// before anything loads, naming the folder and the ways out; with
// Overwrite it replaces the run, whose metrics then hold only the new run's
// steps.
func TestRunFolder(t *testing.T) {
	r := tinyRecipe(t, tinyModel(t, 64))
	if _, err := Run(context.Background(), r, RunOptions{}, &events{}); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(r.Output, "metrics.jsonl")
	first, err := train.ReadMetrics(metrics)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	_, err = Run(context.Background(), r, RunOptions{}, ev)
	if err == nil || !strings.Contains(err.Error(), r.Output) || !strings.Contains(err.Error(), "--overwrite") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("Run into a folder holding a run = %v, want an error naming it, --resume and --overwrite", err)
	}
	if len(ev.lines) > 0 {
		t.Errorf("Run into a folder holding a run did work before refusing: %q", ev.lines)
	}
	if _, err := Run(context.Background(), r, RunOptions{Overwrite: true}, &events{}); err != nil {
		t.Fatalf("Run with Overwrite = %v", err)
	}
	again, err := train.ReadMetrics(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(first) {
		t.Errorf("metrics.jsonl after an overwriting run has %d records, the first run %d: the runs are mixed", len(again), len(first))
	}
}

// TestRunChecksTargetsFirst: LoRA targets the model does not have are an
// error before anything loads, and no output folder is made.
func TestRunChecksTargetsFirst(t *testing.T) {
	r := tinyRecipe(t, tinyModel(t, 64))
	r.LoRA.Targets = []string{"qkv_proj"}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "lora.targets[0]") {
		t.Errorf("Validate(lora.targets [qkv_proj]) = %v, want an error naming lora.targets[0]", err)
	}
	ev := &events{}
	if _, err := Run(context.Background(), r, RunOptions{}, ev); err == nil || !strings.Contains(err.Error(), "qkv_proj") {
		t.Errorf("Run(lora.targets [qkv_proj]) = %v, want an error naming the target", err)
	}
	if len(ev.lines) > 0 {
		t.Errorf("Run with bad targets did work before failing: %q", ev.lines)
	}
	if _, err := os.Stat(r.Output); !os.IsNotExist(err) {
		t.Errorf("Run with bad targets made the output folder (%v)", err)
	}
}

// TestRunPrepared: a folder written by hone data prepare trains as it is
// when it was made for the model, and is refused, naming the mismatch,
// when it was not.
func TestRunPrepared(t *testing.T) {
	modelDir := tinyModel(t, 256)
	r := tinyRecipe(t, modelDir)
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	files := r.Data.Train
	prepare := func(tmplName string, maxLen int) string {
		tmpl, err := data.LoadTemplate(tmplName, modelDir, "chatml", tok)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "prepared")
		_, err = data.Prepare(data.PrepareConfig{Train: files, ValFraction: 0.25, Template: tmpl, Tokenizer: tok,
			TokenizerFile: filepath.Join(modelDir, "tokenizer.json"), MaxLen: maxLen, Pack: true, Out: out}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	r.Data.Train = []string{prepare("auto", 128)}
	r.Data.ValFraction = 0.1
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate(data.train: a prepared folder) = %v", err)
	}
	ev := &events{}
	res, err := Run(context.Background(), r, RunOptions{}, ev)
	if err != nil {
		t.Fatalf("Run(prepared folder) = %v", err)
	}
	if res.Steps != 2 || !strings.Contains(strings.Join(ev.lines, "\n"), "prepared folder") {
		t.Errorf("Run(prepared folder): %d steps, events %q", res.Steps, ev.lines)
	}

	// another template
	r.Data.Train = []string{prepare("alpaca", 128)}
	r.Output = filepath.Join(t.TempDir(), "run")
	if _, err := Run(context.Background(), r, RunOptions{}, &events{}); err == nil || !strings.Contains(err.Error(), "chat template") {
		t.Errorf("Run(folder prepared with another template) = %v, want a template error", err)
	}
	// rows longer than the model's context
	r.Data.Train = []string{prepare("auto", 512)}
	if _, err := Run(context.Background(), r, RunOptions{}, &events{}); err == nil || !strings.Contains(err.Error(), "context of 256") {
		t.Errorf("Run(folder prepared with rows of 512 tokens for a context of 256) = %v, want an error", err)
	}
	// another tokenizer
	dir := prepare("auto", 128)
	mpath := filepath.Join(dir, data.ManifestFile)
	b, _ := os.ReadFile(mpath)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["tokenizer"].(map[string]any)["sha256"] = strings.Repeat("0", 64)
	b, _ = json.Marshal(m)
	writeFile(t, mpath, string(b))
	r.Data.Train = []string{dir}
	if _, err := Run(context.Background(), r, RunOptions{}, &events{}); err == nil || !strings.Contains(err.Error(), "tokenizer") {
		t.Errorf("Run(folder prepared with another tokenizer) = %v, want a tokenizer error", err)
	}
	// a folder that was not prepared, and a prepared folder with more data
	r.Data.Train = []string{t.TempDir()}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("Validate(data.train: a plain folder) = %v, want an error", err)
	}
	r.Data.Train = []string{dir, dir}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "the only training data") {
		t.Errorf("Validate(data.train: a prepared folder and more) = %v, want an error", err)
	}
}

// TestEvaluateLongPrompts: a held-out example whose prompt leaves no room
// in the model's context is left out, named in the notes and the report;
// when every example is, the error names the --data file.
func TestEvaluateLongPrompts(t *testing.T) {
	modelDir := tinyModel(t, 64)
	dir := t.TempDir()
	long := strings.Repeat("a very long prompt indeed ", 40)
	test := writeFile(t, filepath.Join(dir, "test.jsonl"), chatRow("One plus one?", "2")+chatRow(long, "3")+chatRow("Two plus two?", "4"))
	general := writeFile(t, filepath.Join(dir, "general.txt"), "Once upon a time there was a cat.\nIt sat.\n\nThe end came soon.\n")
	c := &EvalConfig{Model: modelDir, Tuned: modelDir, Data: test, General: general, Precision: "fp32", MaxNewTokens: 2, Samples: 1, Out: filepath.Join(dir, "eval")}
	ev := &events{}
	rep, err := Evaluate(context.Background(), c, ev)
	if err != nil {
		t.Fatalf("Evaluate with one prompt too long = %v, want it left out", err)
	}
	if rep.Examples != 2 || len(rep.Skipped) != 1 || !strings.HasPrefix(rep.Skipped[0], test+":2: prompt of") {
		t.Errorf("Evaluate: %d examples, skipped %q; want 2, and %s:2 left out", rep.Examples, rep.Skipped, test)
	}
	log := strings.Join(ev.lines, "\n")
	for _, want := range []string{test + ":2: prompt of", "base model: held-out loss", "tuned model: generated 2/2", "base model: forgetting probe"} {
		if !strings.Contains(log, want) {
			t.Errorf("Evaluate's notes lack %q:\n%s", want, log)
		}
	}
	if !(rep.Base.GeneralPPL > 0) {
		t.Errorf("Evaluate(--general plain text): general perplexity %v, want it measured", rep.Base.GeneralPPL)
	}
	// nothing usable
	c.Data = writeFile(t, filepath.Join(dir, "long.jsonl"), chatRow(long, "3"))
	if _, err := Evaluate(context.Background(), c, &events{}); err == nil || !strings.Contains(err.Error(), "--data "+c.Data) {
		t.Errorf("Evaluate with every prompt too long = %v, want an error naming --data %s", err, c.Data)
	}
}

// TestEvaluateFlagErrors: the errors of hone eval's settings name the
// flags, each problem once.
func TestEvaluateFlagErrors(t *testing.T) {
	c := &EvalConfig{Model: "m", Tuned: t.TempDir(), Data: "missing.jsonl", Precision: "fp16", Limit: -1, Out: "eval"}
	_, err := Evaluate(context.Background(), c, &events{})
	if err == nil {
		t.Fatal("Evaluate with bad flags = nil error")
	}
	msg := err.Error()
	for _, want := range []string{"--data missing.jsonl: does not exist", "--precision", "--limit"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Evaluate error %q lacks %q", msg, want)
		}
	}
	for _, key := range []string{"data.train", "eval.test", "eval.limit", "precision:"} {
		if strings.Contains(msg, key) {
			t.Errorf("Evaluate error %q names the recipe key %s, not the flag", msg, key)
		}
	}
	if n := strings.Count(msg, "missing.jsonl"); n != 1 {
		t.Errorf("Evaluate error %q names the missing file %d times, want once", msg, n)
	}
}

// TestRunEvaluatesDespiteLongPrompt: after training, a test example whose
// prompt leaves no room in the context is left out of the evaluation and
// listed in the report, not an error that loses the report; a test file
// with no usable example fails before training.
func TestRunEvaluatesDespiteLongPrompt(t *testing.T) {
	r := tinyRecipe(t, tinyModel(t, 64))
	dir := t.TempDir()
	long := strings.Repeat("a very long prompt indeed ", 40)
	r.Eval.Skip, r.Eval.MaxNewTokens = false, 2
	r.Eval.Test = writeFile(t, filepath.Join(dir, "test.jsonl"), chatRow(long, "3")+chatRow("One plus one?", "2"))
	res, err := Run(context.Background(), r, RunOptions{}, &events{})
	if err != nil {
		t.Fatalf("Run with a test prompt too long = %v, want it left out", err)
	}
	if res.Report == nil || res.Report.Examples != 1 || len(res.Report.Skipped) != 1 || !strings.HasPrefix(res.Report.Skipped[0], r.Eval.Test+":1:") {
		t.Fatalf("Run's report = %+v, want 1 example and %s:1 left out", res.Report, r.Eval.Test)
	}
	r.Eval.Test = writeFile(t, filepath.Join(dir, "long.jsonl"), chatRow(long, "3"))
	r.Output = filepath.Join(dir, "run2")
	ev := &events{}
	if _, err := Run(context.Background(), r, RunOptions{}, ev); err == nil || !strings.Contains(err.Error(), "eval.test") {
		t.Errorf("Run with no usable test example = %v, want an error naming eval.test", err)
	}
	for _, l := range ev.lines {
		if strings.HasPrefix(l, "training") {
			t.Errorf("Run with no usable test example trained first")
		}
	}
}
