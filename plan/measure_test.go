package plan

import (
	"testing"
	"time"

	"hone/compute/cpu"
	"hone/tensor"
)

func TestMeasureFLOPS(t *testing.T) {
	got := MeasureFLOPS(cpu.New(1), tensor.F32, 50*time.Millisecond)
	// One core of anything that runs Go does more than 100 MFLOP/s and
	// less than 10 TFLOP/s.
	if got < 1e8 || got > 1e13 {
		t.Errorf("MeasureFLOPS(1 thread) = %.3g, want 1e8..1e13", got)
	}
	t.Logf("cpu engine, 1 thread, f32: %.1f GFLOP/s", got/1e9)
}
