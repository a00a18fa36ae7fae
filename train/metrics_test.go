package train

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// steps writes records of steps from..to (an evaluation after each even
// step) and closes the file.
func writeSteps(t *testing.T, m *MetricsFile, from, to int) {
	t.Helper()
	for s := from; s <= to; s++ {
		m.OnStep(StepInfo{Step: s, Loss: float64(s)})
		if s%2 == 0 {
			m.OnEval(EvalInfo{Step: s, Loss: float64(s)})
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func stepList(t *testing.T, path string) []int {
	t.Helper()
	recs, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, r := range recs {
		if r.Loss != nil {
			out = append(out, r.Step)
		}
	}
	return out
}

// TestOpenMetrics: a new run starts the file afresh (never mixing two
// runs), a resumed run drops the lines after its step and appends.
func TestOpenMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	m, err := OpenMetrics(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, m, 1, 6)
	// killed after step 6, with the checkpoint at step 4: resume from it
	m, err = OpenMetrics(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, m, 5, 8)
	if got, want := stepList(t, path), []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("steps after resuming at 4 = %v, want %v", got, want)
	}
	recs, _ := ReadMetrics(path)
	if n := len(recs); n != 12 {
		t.Errorf("resumed file has %d records, want 12 (8 steps, 4 evaluations)", n)
	}
	// a new run in the same place starts over
	m, err = OpenMetrics(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, m, 1, 3)
	if got, want := stepList(t, path), []int{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("steps of a new run over an old file = %v, want %v", got, want)
	}
	// resuming without a file starts one
	os.Remove(path)
	m, err = OpenMetrics(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, m, 4, 4)
	if got, want := stepList(t, path), []int{4}; !slices.Equal(got, want) {
		t.Errorf("steps of a resumed run without a file = %v, want %v", got, want)
	}
}
