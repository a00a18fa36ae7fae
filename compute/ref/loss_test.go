package ref

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
)

func TestCrossEntropyHand(t *testing.T) {
	// softmax([0, ln 2, ln 3]) = [1, 2, 3]/6: label 2 costs -ln(1/2) = ln 2,
	// label 0 costs ln 6; the middle row is ignored.
	logits := []float64{
		0, math.Ln2, math.Log(3),
		9, 9, 9,
		0, math.Ln2, math.Log(3),
	}
	d := make([]float64, 9)
	for i := range d {
		d[i] = 42 // overwritten, not accumulated
	}
	sum, count := CrossEntropy(logits, []int32{2, compute.IgnoreIndex, 0}, d, 3, 0.5)
	if count != 2 || math.Abs(sum-(math.Ln2+math.Log(6))) > 1e-15 {
		t.Errorf("CrossEntropy(known rows) = %.17g, %d, want %.17g, 2", sum, count, math.Ln2+math.Log(6))
	}
	closeTo(t, "CrossEntropy(known rows) dlogits", d, []float64{
		0.5 / 6, 0.5 * 2 / 6, 0.5 * (3.0/6 - 1),
		0, 0, 0,
		0.5 * (1.0/6 - 1), 0.5 * 2 / 6, 0.5 * 3 / 6,
	}, 1e-15)

	// Huge logits stay finite: the max is subtracted.
	sum, count = CrossEntropy([]float64{1000, 1000}, []int32{1}, nil, 2, 1)
	if count != 1 || math.Abs(sum-math.Ln2) > 1e-12 {
		t.Errorf("CrossEntropy([1000 1000], 1) = %v, %d, want ln 2, 1", sum, count)
	}
	sum32, _ := CrossEntropy([]float32{-3e38, 3e38, 0}, []int32{1}, nil, 3, 1)
	if sum32 != 0 {
		t.Errorf("CrossEntropy(float32 ±3e38) = %v, want 0", sum32)
	}
}

func TestCrossEntropyAllIgnored(t *testing.T) {
	logits := randn(newRand(9), 12)
	d := randn(newRand(10), 12)
	sum, count := CrossEntropy(logits, []int32{compute.IgnoreIndex, compute.IgnoreIndex, compute.IgnoreIndex}, d, 4, 1)
	if sum != 0 || count != 0 {
		t.Errorf("CrossEntropy(all ignored) = %v, %d, want 0, 0", sum, count)
	}
	closeTo(t, "CrossEntropy(all ignored) dlogits", d, make([]float64, 12), 0)
}

func TestCrossEntropyGrad(t *testing.T) {
	r := newRand(11)
	ig := int32(compute.IgnoreIndex)
	for _, tc := range []struct {
		vocab  int
		labels []int32
		scale  float64
	}{
		{7, []int32{3, ig, 0, 6, 6}, 1},
		{7, []int32{3, ig, 0, 6, 6}, 0.3},
		{1, []int32{0, 0}, 1}, // a vocabulary of one: loss 0, gradient 0
		{5, []int32{ig, ig}, 1},
		{13, []int32{12}, 1.0 / 3},
	} {
		name := fmt.Sprintf("CrossEntropy(vocab %d, labels %v, scale %g)", tc.vocab, tc.labels, tc.scale)
		logits := randn(r, len(tc.labels)*tc.vocab)
		for i := range logits {
			logits[i] *= 3
		}
		loss := func() float64 {
			s, _ := CrossEntropy(logits, tc.labels, nil, tc.vocab, 1)
			return tc.scale * s
		}
		d := make([]float64, len(logits))
		CrossEntropy(logits, tc.labels, d, tc.vocab, tc.scale)
		zero := true
		for _, y := range tc.labels {
			zero = zero && (y == ig || tc.vocab == 1)
		}
		checkGrad(t, name, logits, d, loss, zero)

		// dlogits may alias logits, and the loss is unchanged by it.
		wantSum, wantCount := CrossEntropy(logits, tc.labels, nil, tc.vocab, tc.scale)
		x := append([]float64(nil), logits...)
		sum, count := CrossEntropy(x, tc.labels, x, tc.vocab, tc.scale)
		if sum != wantSum || count != wantCount {
			t.Errorf("%s aliased = %v, %d, want %v, %d", name, sum, count, wantSum, wantCount)
		}
		closeTo(t, name+" aliased dlogits", x, d, 0)
	}
}

func TestCrossEntropyPanics(t *testing.T) {
	mustPanic(t, "CrossEntropy(label out of range)", "labels[1] = 4 is outside the vocabulary of 4", func() {
		CrossEntropy(make([]float64, 8), []int32{0, 4}, nil, 4, 1)
	})
	mustPanic(t, "CrossEntropy(negative label)", "labels[0] = -1", func() {
		CrossEntropy(make([]float64, 8), []int32{-1, 0}, nil, 4, 1)
	})
	mustPanic(t, "CrossEntropy(short logits)", "logits has 7 elements, need 8", func() {
		CrossEntropy(make([]float64, 7), []int32{0, 0}, nil, 4, 1)
	})
}
