package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartReduced runs the quickstart end to end with a small budget
// (100 steps, 12 test examples) and checks that the report moves the right
// way: the tuned model's held-out loss is lower and its JSON validity higher
// than the base's, schema conformance does not fall, nothing is forgotten,
// and both exports are written (each passed its parity check, or the
// command would have failed).
func TestQuickstartReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute; skipped in -short")
	}
	root, _ := filepath.Abs("../../examples")
	out := t.TempDir()
	stdout, stderr, code := hone(t, "", "quickstart", "--examples", root, "--out", out,
		"--set", "train.max_steps=100", "--set", "train.eval_every=50", "--set", "eval.limit=12", "--set", "eval.max_new_tokens=40")
	if code != 0 {
		t.Fatalf("quickstart exited %d:\n%s", code, stderr)
	}
	for _, want := range []string{"json_valid", "schema_valid", "general perplexity", "report:", "gguf:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "run", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Base, Tuned struct {
			Loss       float64            `json:"loss"`
			GeneralPPL float64            `json:"general_perplexity"`
			Metrics    map[string]float64 `json:"metrics"`
		}
		GeneralChange float64 `json:"general_perplexity_change"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("base: loss %.3f %v; tuned: loss %.3f %v; general perplexity %+.1f%%", rep.Base.Loss, rep.Base.Metrics, rep.Tuned.Loss, rep.Tuned.Metrics, 100*rep.GeneralChange)
	if !(rep.Tuned.Loss < rep.Base.Loss) {
		t.Errorf("held-out loss: tuned %.3f, base %.3f; want lower", rep.Tuned.Loss, rep.Base.Loss)
	}
	// 100 steps teach the format (valid JSON) but not yet every enum value
	// of the schema: the full quickstart reaches both (README)
	if !(rep.Tuned.Metrics["json_valid"] > rep.Base.Metrics["json_valid"]) {
		t.Errorf("json_valid: tuned %.2f, base %.2f; want higher", rep.Tuned.Metrics["json_valid"], rep.Base.Metrics["json_valid"])
	}
	if rep.Tuned.Metrics["schema_valid"] < rep.Base.Metrics["schema_valid"] {
		t.Errorf("schema_valid fell: tuned %.2f, base %.2f", rep.Tuned.Metrics["schema_valid"], rep.Base.Metrics["schema_valid"])
	}
	if rep.GeneralChange > 0.25 {
		t.Errorf("general perplexity rose %.0f%%", 100*rep.GeneralChange)
	}
	for _, f := range []string{"merged/model.safetensors", "merged/tokenizer.json", "gguf/model.gguf", "gguf/Modelfile"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the quickstart did not write %s", f)
		}
	}
}
