package ref

import (
	"math"

	"hone/tensor"
)

// RMSNorm sets out[i] = w * (x[i] * rsqrt(mean(x[i]²) + eps)) for each row i
// of x [n, d], as LlamaRMSNorm does: the product x*rsqrt is rounded to F
// before the weight w [d] multiplies it. The mean of squares is accumulated
// in float64 and rounded to F; rsqrt is computed in float64 and rounded to F.
// When rstd [n] is not nil it receives each row's rsqrt(mean(x²) + eps).
func RMSNorm[F Float](out, x, w []F, n, d int, eps F, rstd []F) {
	const op = "RMSNorm"
	needLen(op, "x", x, n*d)
	needLen(op, "out", out, n*d)
	needLen(op, "w", w, d)
	if rstd != nil {
		needLen(op, "rstd", rstd, n)
	}
	for i := range n {
		xi, oi := x[i*d:(i+1)*d], out[i*d:(i+1)*d]
		var ss float64
		for _, v := range xi {
			ss += float64(v) * float64(v)
		}
		mean := F(ss / float64(d))
		r := F(1 / math.Sqrt(float64(mean+eps)))
		if rstd != nil {
			rstd[i] = r
		}
		for j, v := range xi {
			oi[j] = w[j] * (v * r)
		}
	}
}

// RMSNormBackward accumulates into dx [n, d] and dw [d] the gradients of
// RMSNorm given dout [n, d], the input x, the weight w and the rstd the
// forward saved. Either gradient may be nil. With r = rstd[i] and
// c = Σ_j dout_j·w_j·x_j over the row:
//
//	dx_k += r·(dout_k·w_k - x_k·r²·c/d)
//	dw_k += dout_k·x_k·r
func RMSNormBackward[F Float](dx, dw, dout, x, w, rstd []F, n, d int) {
	const op = "RMSNormBackward"
	needLen(op, "x", x, n*d)
	needLen(op, "dout", dout, n*d)
	needLen(op, "w", w, d)
	needLen(op, "rstd", rstd, n)
	if dx != nil {
		needLen(op, "dx", dx, n*d)
	}
	if dw != nil {
		needLen(op, "dw", dw, d)
	}
	for i := range n {
		xi, gi := x[i*d:(i+1)*d], dout[i*d:(i+1)*d]
		r := rstd[i]
		if dw != nil {
			for j, g := range gi {
				dw[j] += g * (xi[j] * r)
			}
		}
		if dx == nil {
			continue
		}
		var c F
		for j, g := range gi {
			c += g * w[j] * xi[j]
		}
		k := r * r * c / F(d)
		dxi := dx[i*d : (i+1)*d]
		for j, g := range gi {
			dxi[j] += r * (g*w[j] - xi[j]*k)
		}
	}
}

// RMSNorm normalises the rows of x [n, d] into out with the weight w [d] (F32
// BF16 or F16, widened to float32 as transformers does); rstd [n] may be nil.
func (Engine) RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor) {
	const op = "RMSNorm"
	o, xv := f32(op, "out", out), f32(op, "x", x)
	need(out.Numel() == x.Numel() && out.Cols() == x.Cols(), op, "out %v does not match x %v", out, x)
	wv := weightF32(op, "w", w)
	need(len(wv) == x.Cols(), op, "w %v does not match x %v", w, x)
	rs := f32OrNil(op, "rstd", rstd)
	need(rs == nil || len(rs) == x.Rows(), op, "rstd %v does not match x %v", rstd, x)
	RMSNorm(o, xv, wv, x.Rows(), x.Cols(), eps, rs)
}

// RMSNormBackward accumulates the gradients of x (dx) and of the weight (dw,
// may be nil; it is F32 even when w is half precision).
func (Engine) RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor) {
	const op = "RMSNormBackward"
	xv, g := f32(op, "x", x), f32(op, "dout", dout)
	need(dout.Numel() == x.Numel() && dout.Cols() == x.Cols(), op, "dout %v does not match x %v", dout, x)
	wv := weightF32(op, "w", w)
	need(len(wv) == x.Cols(), op, "w %v does not match x %v", w, x)
	rs := f32(op, "rstd", rstd)
	need(len(rs) == x.Rows(), op, "rstd %v does not match x %v", rstd, x)
	dxv, dwv := f32OrNil(op, "dx", dx), f32OrNil(op, "dw", dw)
	need(dxv == nil || len(dxv) == len(xv), op, "dx %v does not match x %v", dx, x)
	need(dwv == nil || len(dwv) == len(wv), op, "dw %v does not match w %v", dw, w)
	RMSNormBackward(dxv, dwv, g, xv, wv, rs, x.Rows(), x.Cols())
}
