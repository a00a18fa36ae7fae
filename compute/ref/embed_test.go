package ref

import "testing"

func TestEmbed(t *testing.T) {
	table := []float64{
		0, 1, 2,
		10, 11, 12,
		20, 21, 22,
	}
	out := make([]float64, 12)
	Embed(out, table, []int32{2, 0, 2, 1}, 3)
	closeTo(t, "Embed([2 0 2 1])", out, []float64{20, 21, 22, 0, 1, 2, 20, 21, 22, 10, 11, 12}, 0)

	// Repeated ids add up in the backward.
	dt := make([]float64, 9)
	EmbedBackward(dt, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, []int32{2, 0, 2, 1}, 3)
	closeTo(t, "EmbedBackward([2 0 2 1])", dt, []float64{4, 5, 6, 10, 11, 12, 8, 10, 12}, 0)
}

func TestEmbedGrad(t *testing.T) {
	r := newRand(12)
	vocab, d := 6, 5
	ids := []int32{3, 0, 3, 5, 3}
	table, proj := randn(r, vocab*d), randn(r, len(ids)*d)
	out := make([]float64, len(ids)*d)
	loss := func() float64 {
		Embed(out, table, ids, d)
		return project(proj, out)
	}
	dt := make([]float64, vocab*d)
	backward := func() { EmbedBackward(dt, proj, ids, d) }
	backward()
	checkGrad(t, "Embed dtable", table, dt, loss, false)
	checkAccum(t, "EmbedBackward", backward, dt)
}

func TestEmbedPanics(t *testing.T) {
	mustPanic(t, "Embed(id past the table)", "ids[1] = 3 is outside the table's 3 rows", func() {
		Embed(make([]float64, 4), make([]float64, 6), []int32{0, 3}, 2)
	})
	mustPanic(t, "EmbedBackward(negative id)", "ids[0] = -1", func() {
		EmbedBackward(make([]float64, 6), make([]float64, 2), []int32{-1}, 2)
	})
}
