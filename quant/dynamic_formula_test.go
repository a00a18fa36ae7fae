package quant

import "math"

// dynamicMapFormula evaluates create_dynamic_map's formula in float32 with
// torch.linspace's scalar two-sided rule; it differs from DynamicMap by at
// most two ulps per entry (see DynamicMap) and documents where the table
// comes from.
func dynamicMapFormula() [256]float32 {
	var data []float32
	const maxExp = 7
	for i := range maxExp {
		n := 1<<i + 1 // boundaries
		b := linspace32(0.1, 1, n)
		scale := float32(math.Pow(10, float64(i-(maxExp-1))))
		for j := 0; j+1 < n; j++ {
			mean := (b[j] + b[j+1]) / 2
			data = append(data, scale*mean, -(scale * mean))
		}
	}
	data = append(data, 0, 1)
	for i := 1; i < len(data); i++ { // insertion sort: 256 values
		for j := i; j > 0 && data[j] < data[j-1]; j-- {
			data[j], data[j-1] = data[j-1], data[j]
		}
	}
	var m [256]float32
	copy(m[:], data)
	return m
}

// linspace32 reproduces torch.linspace for float32 on the CPU: the first half
// counts up from start, the second half down from end, with a float32 step.
func linspace32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = start + step*float32(i)
		} else {
			out[i] = end - step*float32(steps-i-1)
		}
	}
	return out
}
