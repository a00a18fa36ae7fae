package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Record is one line of metrics.jsonl: a training step, or an evaluation
// (EvalLoss set).
type Record struct {
	Step       int      `json:"step"`
	Epoch      float64  `json:"epoch,omitempty"`
	Loss       *float64 `json:"loss,omitempty"`
	LR         *float64 `json:"lr,omitempty"`
	GradNorm   *float64 `json:"grad_norm,omitempty"`
	TokensPerS *float64 `json:"tokens_per_s,omitempty"`
	Trained    int      `json:"trained_tokens,omitempty"`
	EvalLoss   *float64 `json:"eval_loss,omitempty"`
	Best       bool     `json:"best,omitempty"`
}

// MetricsFile appends a Record per step and per evaluation to a JSON Lines
// file, flushing each line so that a killed run keeps its metrics.
type MetricsFile struct {
	f *os.File
}

// OpenMetrics opens path for appending. When resuming from step, lines of
// later steps (written after the checkpoint) are dropped first, so the file
// reads as if the run had never stopped.
func OpenMetrics(path string, resumeStep int) (*MetricsFile, error) {
	if resumeStep >= 0 {
		if data, err := os.ReadFile(path); err == nil {
			var keep bytes.Buffer
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var r Record
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.Step <= resumeStep {
					keep.Write(sc.Bytes())
					keep.WriteByte('\n')
				}
			}
			if err := os.WriteFile(path, keep.Bytes(), 0o644); err != nil {
				return nil, err
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &MetricsFile{f: f}, nil
}

func (m *MetricsFile) write(r Record) {
	data, _ := json.Marshal(r)
	fmt.Fprintf(m.f, "%s\n", data)
}

// OnStep records a step.
func (m *MetricsFile) OnStep(s StepInfo) {
	m.write(Record{Step: s.Step, Epoch: s.Epoch, Loss: &s.Loss, LR: &s.LR, GradNorm: &s.GradNorm, TokensPerS: &s.TokensPerS, Trained: s.Trained})
}

// OnEval records an evaluation.
func (m *MetricsFile) OnEval(e EvalInfo) {
	m.write(Record{Step: e.Step, EvalLoss: &e.Loss, Best: e.Improved})
}

// Close closes the file.
func (m *MetricsFile) Close() error { return m.f.Close() }

// ReadMetrics reads a metrics.jsonl file.
func ReadMetrics(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Record
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Observers fans events out to several observers.
type Observers []Observer

// OnStep forwards the step to every observer.
func (o Observers) OnStep(s StepInfo) {
	for _, x := range o {
		x.OnStep(s)
	}
}

// OnEval forwards the evaluation to every observer.
func (o Observers) OnEval(e EvalInfo) {
	for _, x := range o {
		x.OnEval(e)
	}
}
