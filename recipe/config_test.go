package recipe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRecipe(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(`{"prompt":"a","completion":"b"}`+"\n"), 0o644)
	p := filepath.Join(dir, "r.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	return p
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body string
		set        []string
		want       string
	}{
		{"unknown key", "model: m\ndata:\n  train: [train.jsonl]\n  shuffle_bufer: 3\n", nil, "shuffle_bufer"},
		{"unknown top key", "model: m\nlearning_rate: 1\ndata: {train: [train.jsonl]}\n", nil, "learning_rate"},
		{"negative lr", "model: m\ndata: {train: [train.jsonl]}\ntrain: {learning_rate: -0.001}\n", nil, "train.learning_rate"},
		{"negative lr by --set", "model: m\ndata: {train: [train.jsonl]}\n", []string{"train.learning_rate=-1"}, "train.learning_rate"},
		{"unknown key by --set", "model: m\ndata: {train: [train.jsonl]}\n", []string{"train.lr=1"}, "lr"},
		{"missing dataset", "model: m\ndata: {train: [nope.jsonl]}\n", nil, "data.train[0]: nope.jsonl does not exist"},
		{"no data", "model: m\n", nil, "data.train: missing"},
		{"bad technique", "model: m\ntechnique: dora\ndata: {train: [train.jsonl]}\n", nil, "technique"},
		{"unknown metric", "model: m\ndata: {train: [train.jsonl]}\neval: {metrics: [bleu]}\n", nil, "eval.metrics[0]"},
		{"wrong type", "model: m\ndata: {train: [train.jsonl]}\ntrain: {batch_size: many}\n", nil, "batch_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeRecipe(t, tt.body), tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestLoadDefaultsAndOverrides(t *testing.T) {
	r, err := Load(writeRecipe(t, "model: m\ndata: {train: [train.jsonl]}\nlora: {r: 8}\n"), []string{"train.learning_rate=1e-3", "lora.targets=[q_proj,v_proj]"})
	if err != nil {
		t.Fatal(err)
	}
	if r.LoRA.R != 8 || r.LoRA.Alpha != 32 || r.Train.LearningRate != 1e-3 || len(r.LoRA.Targets) != 2 || r.Train.Scheduler != "cosine" {
		t.Fatalf("recipe = %+v", r)
	}
}
