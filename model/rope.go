package model

import (
	"math"

	"hone/tensor"
)

// InvFreq returns the rotary inverse frequencies of one head, hd/2 values,
// with the config's scaling applied as transformers applies it for a context
// of seqLen positions (only the dynamic type depends on seqLen), and the
// magnitude factor that multiplies cos and sin (1 except for yarn).
func (c *Config) InvFreq(seqLen int) (inv []float64, mag float64) {
	d := c.HeadDim
	r := c.Rope
	base := r.Theta
	mag = 1
	if r.Type == "dynamic" && seqLen > r.OriginalMaxPositions {
		// NTK-aware scaling of the base, as transformers' dynamic rope.
		s := r.Factor*float64(seqLen)/float64(r.OriginalMaxPositions) - (r.Factor - 1)
		base *= math.Pow(s, float64(d)/float64(d-2))
	}
	inv = make([]float64, d/2)
	for i := range inv {
		// transformers: 1 / base ** (arange(0, d, 2).float() / d)
		inv[i] = 1 / math.Pow(base, float64(2*i)/float64(d))
	}
	switch r.Type {
	case "linear":
		for i := range inv {
			inv[i] /= r.Factor
		}
	case "llama3":
		old := float64(r.OriginalMaxPositions)
		lowWave := old / r.LowFreqFactor
		highWave := old / r.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / f
			switch {
			case wave < highWave: // high frequency: unchanged
			case wave > lowWave: // low frequency: interpolated
				inv[i] = f / r.Factor
			default:
				s := (old/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-s)*f/r.Factor + s*f
			}
		}
	case "yarn":
		inv, mag = c.yarn(base)
	}
	return inv, mag
}

// yarn computes YaRN's blend of interpolated and extrapolated frequencies.
func (c *Config) yarn(base float64) ([]float64, float64) {
	r := c.Rope
	d := float64(c.HeadDim)
	getMScale := func(scale, m float64) float64 {
		if scale <= 1 {
			return 1
		}
		return 0.1*m*math.Log(scale) + 1
	}
	mag := r.AttentionFactor
	if mag == 0 {
		if r.MScale != 0 && r.MScaleAllDim != 0 {
			mag = getMScale(r.Factor, r.MScale) / getMScale(r.Factor, r.MScaleAllDim)
		} else {
			mag = getMScale(r.Factor, 1)
		}
	}
	corrDim := func(rot float64) float64 {
		return d * math.Log(float64(r.OriginalMaxPositions)/(rot*2*math.Pi)) / (2 * math.Log(base))
	}
	low := math.Max(math.Floor(corrDim(r.BetaFast)), 0)
	high := math.Min(math.Ceil(corrDim(r.BetaSlow)), d-1)
	if low == high {
		high += 0.001
	}
	inv := make([]float64, c.HeadDim/2)
	for i := range inv {
		pos := math.Pow(base, float64(2*i)/d)
		ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
		extra := 1 - ramp
		inv[i] = (1/(r.Factor*pos))*(1-extra) + (1/pos)*extra
	}
	return inv, mag
}

// RopeTables returns the cos and sin tables, [n, HeadDim/2] float32, for
// positions 0..n-1, as the compute.Rotator ops take them. Angles are
// computed in float64 and rounded once.
func (c *Config) RopeTables(n int) (cos, sin *tensor.Tensor) {
	inv, mag := c.InvFreq(n)
	half := len(inv)
	cos = tensor.New(tensor.F32, n, half)
	sin = tensor.New(tensor.F32, n, half)
	cv, sv := cos.F32(), sin.F32()
	for p := 0; p < n; p++ {
		for i, f := range inv {
			// transformers multiplies in float32: position * inv_freq.
			a := float64(float32(p) * float32(f))
			cv[p*half+i] = float32(math.Cos(a) * mag)
			sv[p*half+i] = float32(math.Sin(a) * mag)
		}
	}
	return cos, sin
}
