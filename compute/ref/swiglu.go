package ref

import (
	"math"

	"hone/tensor"
)

// sigmoid returns 1/(1+e^-x), computed in float64 and rounded to F.
func sigmoid[F Float](x F) F { return F(1 / (1 + math.Exp(-float64(x)))) }

// SwiGLU sets out = silu(gate)·up elementwise, silu(g) = g·sigmoid(g).
// out may alias gate or up.
func SwiGLU[F Float](out, gate, up []F) {
	need(len(gate) == len(out) && len(up) == len(out), "SwiGLU", "lengths out %d, gate %d, up %d differ", len(out), len(gate), len(up))
	for i, g := range gate {
		out[i] = g * sigmoid(g) * up[i]
	}
}

// SwiGLUBackward accumulates into dgate and dup (either may be nil) the
// gradients of SwiGLU given dout. With σ = sigmoid(g):
//
//	dgate += dout·up·σ·(1 + g·(1-σ))
//	dup   += dout·g·σ
func SwiGLUBackward[F Float](dgate, dup, dout, gate, up []F) {
	n := len(dout)
	need(len(gate) == n && len(up) == n && (dgate == nil || len(dgate) == n) && (dup == nil || len(dup) == n),
		"SwiGLUBackward", "lengths dgate %d, dup %d, dout %d, gate %d, up %d differ", len(dgate), len(dup), n, len(gate), len(up))
	for i, g := range gate {
		sg := sigmoid(g)
		if dgate != nil {
			dgate[i] += dout[i] * up[i] * sg * (1 + g*(1-sg))
		}
		if dup != nil {
			dup[i] += dout[i] * g * sg
		}
	}
}

// SwiGLU sets out = silu(gate)·up for F32 tensors of equal size.
func (Engine) SwiGLU(out, gate, up *tensor.Tensor) {
	const op = "SwiGLU"
	SwiGLU(f32(op, "out", out), f32(op, "gate", gate), f32(op, "up", up))
}

// SwiGLUBackward accumulates dgate and dup (F32, either may be nil) from dout.
func (Engine) SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor) {
	const op = "SwiGLUBackward"
	dg, du := f32OrNil(op, "dgate", dgate), f32OrNil(op, "dup", dup)
	need((dgate == nil || dgate.Numel() == dout.Numel()) && (dup == nil || dup.Numel() == dout.Numel()), op, "dgate %v, dup %v do not match dout %v", dgate, dup, dout)
	SwiGLUBackward(dg, du, f32(op, "dout", dout), f32(op, "gate", gate), f32(op, "up", up))
}
