//go:build !purego

package generate

import (
	"math"

	"golang.org/x/sys/cpu"
)

// The greedy pick scans the whole vocabulary every token (49,152 logits at
// the SmolLM2 shape): 40-70 µs a token in Go on the 2-core Zen 4 machine,
// about half a percent of a decoded token, against a few µs with AVX2
// (argmax_amd64.s; TestArgmaxKernel checks it against argmaxGo).
var haveAVX2 = cpu.X86.HasAVX2

//go:noescape
func maxAVX2(v *float32, n int) float32

//go:noescape
func firstEqAVX2(v *float32, n int, x float32) int

// argmax is Argmax with the vector kernels where the CPU has them.
func argmax(logits []float32) int32 {
	n := len(logits) &^ 31
	if !haveAVX2 || n == 0 {
		return argmaxGo(logits)
	}
	m := maxAVX2(&logits[0], n)
	for _, v := range logits[n:] {
		if v > m {
			m = v
		}
	}
	if m == float32(math.Inf(-1)) {
		return 0 // nothing above -Inf: the first, as argmaxGo
	}
	// the first logit equal to the largest is the one argmaxGo keeps
	// (both zeros compare equal, as they do there)
	e := len(logits) &^ 7
	if i := firstEqAVX2(&logits[0], e, m); i < e {
		return int32(i)
	}
	for i, v := range logits[e:] {
		if v == m {
			return int32(e + i)
		}
	}
	return argmaxGo(logits) // not reached
}
