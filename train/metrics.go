package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"hone/internal/atomicfile"
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

// OpenMetrics opens the metrics file of a run. A new run (resumeStep < 0)
// starts the file afresh, so that two runs never mix in one file. A run
// resumed from resumeStep keeps the lines up to that step and drops those
// of later steps (written after the checkpoint), so the file reads as if
// the run had never stopped; the new lines are appended after them.
func OpenMetrics(path string, resumeStep int) (*MetricsFile, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resumeStep >= 0 {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if err == nil {
			var keep bytes.Buffer
			for _, line := range bytes.Split(data, []byte("\n")) {
				var r Record
				if json.Unmarshal(line, &r) == nil && r.Step <= resumeStep {
					keep.Write(line)
					keep.WriteByte('\n')
				}
			}
			if keep.Len() != len(data) {
				if err := atomicfile.Write(path, keep.Bytes()); err != nil {
					return nil, err
				}
			}
		}
	}
	f, err := os.OpenFile(path, flags, 0o644)
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
