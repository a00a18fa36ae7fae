package ref

import "testing"

func TestElementwise(t *testing.T) {
	a := []float64{1, 2, 3}
	b := []float64{10, 20, 30}
	dst := make([]float64, 3)
	Add(dst, a, b)
	closeTo(t, "Add", dst, []float64{11, 22, 33}, 0)
	Add(a, a, b) // dst aliases a
	closeTo(t, "Add(aliased)", a, []float64{11, 22, 33}, 0)
	AddScaled(dst, b, -0.5)
	closeTo(t, "AddScaled(-0.5)", dst, []float64{6, 12, 18}, 0)
	Scale(dst, 0.5)
	closeTo(t, "Scale(0.5)", dst, []float64{3, 6, 9}, 0)
	mustPanic(t, "Add(lengths differ)", "ref.Add: lengths dst 3, a 2, b 3 differ", func() { Add(dst, a[:2], b) })
	mustPanic(t, "AddScaled(lengths differ)", "ref.AddScaled", func() { AddScaled(dst, b[:1], 1) })
}
