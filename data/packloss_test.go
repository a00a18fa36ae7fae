package data

import (
	"math"
	"math/rand/v2"
	"testing"

	"hone/compute/ref"
	"hone/model"
)

// TestPackedLossEqualsAlone runs a small random Llama on packed rows and on
// each example alone: with attention kept inside each segment (and
// positions reset), every example's loss must be the same either way.
// Attention leaking across segments fails it; positions that are not reset
// would not, as RoPE scores depend only on relative positions, which is
// why TestPackLayout checks them directly.
func TestPackedLossEqualsAlone(t *testing.T) {
	c := &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 32, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4,
		Vocab: 40, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	m := model.New(c, model.Init(c, 0.5, 7))
	e := ref.Engine{}
	rng := rand.New(rand.NewPCG(1, 2))
	var exs []Sequence
	for i := 0; i < 9; i++ {
		n := 3 + rng.IntN(10)
		ids := []int32{1}
		for len(ids) < n-1 {
			ids = append(ids, int32(3+rng.IntN(c.Vocab-3)))
		}
		ids = append(ids, 2)
		// Train the second half, EOS included.
		var trained []int
		for j := n / 2; j < n; j++ {
			trained = append(trained, j)
		}
		exs = append(exs, seq(ids, trained...))
	}
	// lossOf scores the rows of a batch; keep selects the tokens whose
	// labels count (the others are set to IgnoreIndex).
	lossOf := func(rows []Sequence, keep func(row, t int) bool) (float64, int) {
		b := &model.Batch{B: len(rows)}
		for _, r := range rows {
			b.T = max(b.T, r.Len())
		}
		packed := rows[0].Seg != nil
		for ri, r := range rows {
			for t := 0; t < b.T; t++ {
				id, label, pos, seg := int32(0), int32(IgnoreIndex), int32(t), int32(-1)
				if t < r.Len() {
					id, label = r.IDs[t], r.Labels[t]
					if !keep(ri, t) {
						label = IgnoreIndex
					}
					if packed {
						pos, seg = r.Pos[t], r.Seg[t]
					}
				}
				b.IDs = append(b.IDs, id)
				b.Labels = append(b.Labels, label)
				if packed {
					b.Pos = append(b.Pos, pos)
					b.Seg = append(b.Seg, seg)
				}
			}
		}
		if err := m.Check(b); err != nil {
			t.Fatal(err)
		}
		a := m.NewActivations(b.B, b.T, false)
		m.Forward(e, b, a, false)
		return m.Loss(e, b, a, nil, 0, false)
	}
	rows, err := Pack(exs, 24)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) >= len(exs) {
		t.Fatalf("Pack made %d rows of %d examples: nothing packed", len(rows), len(exs))
	}
	// Find each example in the packed rows by its ids.
	checked := 0
	for ri, r := range rows {
		for start := 0; start < r.Len(); {
			end := start
			for end < r.Len() && r.Seg[end] == r.Seg[start] {
				end++
			}
			var ex *Sequence
			for i := range exs {
				if exs[i].Len() == end-start && equalIDs(exs[i].IDs, r.IDs[start:end]) {
					ex = &exs[i]
				}
			}
			if ex == nil {
				t.Fatalf("row %d, tokens %d..%d: not one of the examples", ri, start, end)
			}
			alone, nAlone := lossOf([]Sequence{*ex}, func(int, int) bool { return true })
			lo, hi := start, end
			inRow, nInRow := lossOf(rows, func(row, t int) bool { return row == ri && t >= lo && t < hi })
			if nAlone != nInRow || nAlone != ex.Trained()-boolInt(ex.Labels[0] != IgnoreIndex) {
				t.Errorf("example at row %d, %d..%d: %d targets alone, %d packed", ri, start, end, nAlone, nInRow)
			}
			if d := math.Abs(alone - inRow); d > 1e-4*math.Max(1, math.Abs(alone)) {
				t.Errorf("example at row %d, %d..%d: loss %.7f packed, %.7f alone", ri, start, end, inRow, alone)
			}
			checked++
			start = end
		}
	}
	if checked != len(exs) {
		t.Errorf("checked %d examples, want %d", checked, len(exs))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
