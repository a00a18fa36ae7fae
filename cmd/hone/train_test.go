package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hone/internal/shared"
	"hone/train"
)

// storiesModel converts the shared stories260K model into a temporary
// Hugging Face folder.
func storiesModel(t *testing.T) string {
	t.Helper()
	src := shared.Path(t, "models", "stories260K")
	out := filepath.Join(t.TempDir(), "stories260K")
	if _, stderr, code := hone(t, "", "convert", "llama2c", "--checkpoint", filepath.Join(src, "stories260K.bin"),
		"--tokenizer", filepath.Join(src, "tok512.bin"), "--out", out); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	return out
}

// writeTask writes a small prompt/completion dataset and a recipe.
func writeTask(t *testing.T, dir, modelDir, extra string) string {
	t.Helper()
	var b bytes.Buffer
	names := []string{"Tom", "Lily", "Ben", "Sue", "Max", "Anna"}
	cols := []string{"red", "blue", "green", "yellow"}
	for i := 0; i < 48; i++ {
		n, c := names[i%len(names)], cols[(i/len(names))%len(cols)]
		fmt.Fprintf(&b, `{"prompt": "%s had a %s ball.", "completion": " The ball was %s."}`+"\n", n, c, c)
	}
	os.WriteFile(filepath.Join(dir, "train.jsonl"), b.Bytes(), 0o644)
	recipe := fmt.Sprintf(`model: %s
precision: fp32
data: {train: [train.jsonl], template: alpaca, max_seq_len: 192, val_fraction: 0}
lora: {r: 4, alpha: 8, dropout: 0.1}
train: {max_steps: 40, batch_size: 4, learning_rate: 0.005, save_every: 2, threads: 2}
eval: {skip: true}
output: %s
%s`, modelDir, filepath.Join(dir, "out"), extra)
	p := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(p, []byte(recipe), 0o644)
	return p
}

// TestTrainKillResume kills a training run with SIGKILL mid-way, resumes it
// from its checkpoint, and checks that the final adapter is byte-identical
// to an uninterrupted run's (dropout included).
func TestTrainKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice; skipped in -short")
	}
	modelDir := storiesModel(t)
	a, b := t.TempDir(), t.TempDir()
	if _, stderr, code := hone(t, "", "train", writeTask(t, a, modelDir, "")); code != 0 {
		t.Fatalf("uninterrupted run: %s", stderr)
	}
	cmd := exec.Command(honeBin, "train", writeTask(t, b, modelDir, ""))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(b, "out", "checkpoint", "trainer_state.json")
	killed := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var st struct{ Step int }
		if data, err := os.ReadFile(state); err == nil && json.Unmarshal(data, &st) == nil && st.Step >= 10 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	err := cmd.Wait()
	if !killed || err == nil {
		t.Fatalf("the run was not killed mid-way (killed=%v, exit %v): %s", killed, err, stderr.String())
	}
	data, _ := os.ReadFile(state)
	t.Logf("killed after checkpoint %s", strings.Join(strings.Fields(string(data)), " "))
	if _, stderr, code := hone(t, "", "train", filepath.Join(b, "recipe.yaml"), "--resume", filepath.Join(b, "out", "checkpoint")); code != 0 {
		t.Fatalf("resumed run: %s", stderr)
	}
	want, err := os.ReadFile(filepath.Join(a, "out", "adapter", "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(b, "out", "adapter", "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the resumed run's adapter differs from the uninterrupted run's")
	}
	// the metrics of the resumed run read as one uninterrupted run
	ma, _ := os.ReadFile(filepath.Join(a, "out", "metrics.jsonl"))
	mb, _ := os.ReadFile(filepath.Join(b, "out", "metrics.jsonl"))
	if la, lb := bytes.Count(ma, []byte("\n")), bytes.Count(mb, []byte("\n")); la != lb {
		t.Errorf("metrics.jsonl has %d lines after resuming, %d uninterrupted", lb, la)
	}
}

// TestTrainRecipeErrors: a bad recipe fails before the model loads, naming
// the key, with exit code 2.
func TestTrainRecipeErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeTask(t, dir, filepath.Join(dir, "no-such-model"), "train_on_promt: true\n")
	_, stderr, code := hone(t, "", "train", p)
	if code != 2 || !strings.Contains(stderr, "train_on_promt") {
		t.Fatalf("exit %d, stderr %q; want 2 and the unknown key named", code, stderr)
	}
	p = writeTask(t, dir, filepath.Join(dir, "no-such-model"), "")
	_, stderr, code = hone(t, "", "train", p, "--set", "train.learning_rate=-1")
	if code != 2 || !strings.Contains(stderr, "train.learning_rate") {
		t.Fatalf("exit %d, stderr %q; want 2 and train.learning_rate named", code, stderr)
	}
}

// TestProgressETAAfterResume: the ETA counts the steps done in this
// process since training began, not the time since the process started
// (model loading) over the absolute step number of a resumed run.
func TestProgressETAAfterResume(t *testing.T) {
	var out bytes.Buffer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	p := &progress{w: &out, now: func() time.Time { return clock }, lastEvent: clock}
	p.Stage("loading model")
	clock = clock.Add(100 * time.Second) // loading took 100 s
	p.Note("resumed from run/checkpoint at step 50")
	p.Stage("training: 100 steps")
	clock = clock.Add(10 * time.Second) // step 51 took 10 s
	p.OnStep(train.StepInfo{Step: 51, Steps: 100})
	clock = clock.Add(10 * time.Second)
	p.OnStep(train.StepInfo{Step: 52, Steps: 100})
	if !strings.Contains(out.String(), "step 51/100") || !strings.Contains(out.String(), "ETA 8m10s") {
		t.Errorf("after step 51 of a run resumed at 50, 10 s a step: want ETA 8m10s (49 steps), got\n%s", out.String())
	}
	if _, eta := p.eta(train.StepInfo{Step: 52, Steps: 100}); eta != 480*time.Second {
		t.Errorf("ETA after step 52 = %s, want 8m0s", eta)
	}
}

// TestTrainRefusesRunFolder: a new run into a folder that holds a run
// fails before the model loads (the model here does not exist), naming
// the folder and the ways out, with exit code 1 and nothing written.
func TestTrainRefusesRunFolder(t *testing.T) {
	dir := t.TempDir()
	p := writeTask(t, dir, filepath.Join("..", "..", "examples", "tiny-base"), "")
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "metrics.jsonl"), []byte(`{"step":1,"loss":2}`+"\n"), 0o644)
	_, stderr, code := hone(t, "", "train", p)
	if code == 0 || !strings.Contains(stderr, out+" already holds a run") || !strings.Contains(stderr, "--overwrite") || strings.Contains(stderr, "loading model") {
		t.Fatalf("train into a run folder: exit %d, stderr %q; want a refusal naming the folder and --overwrite, before loading", code, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl")); string(data) != `{"step":1,"loss":2}`+"\n" {
		t.Errorf("the refused run changed metrics.jsonl: %q", data)
	}
	if _, stderr, code := hone(t, "", "train", p, "--resume", filepath.Join(out, "checkpoint"), "--overwrite"); code != 2 {
		t.Errorf("train --resume --overwrite: exit %d, stderr %q; want 2", code, stderr)
	}
}

// TestEvalFlagErrors: hone eval's errors name its flags, once each, with
// exit code 2.
func TestEvalFlagErrors(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := hone(t, "", "eval", "--model", dir, "--tuned", dir, "--data", "missing.jsonl", "--precision", "fp16", "--limit", "-1")
	if code != 2 {
		t.Errorf("eval with bad flags: exit %d, want 2", code)
	}
	for _, want := range []string{"--data missing.jsonl", "--precision", "--limit"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("eval with bad flags: stderr %q lacks %q", stderr, want)
		}
	}
	if strings.Count(stderr, "missing.jsonl") != 1 || strings.Contains(stderr, "data.train") || strings.Contains(stderr, "eval.test") {
		t.Errorf("eval with bad flags: stderr %q names recipe keys or the missing file more than once", stderr)
	}
}
