package ref

import "hone/tensor"

// RoPE rotates x [len(pos), heads*hd] in place by rotary position embeddings
// in Hugging Face's rotate_half convention: each head's halves (x1, x2)
// become (x1·cos - x2·sin, x2·cos + x1·sin), where row i uses row pos[i] of
// the tables cos and sin [maxPos, hd/2].
func RoPE[F Float](x []F, pos []int32, heads, hd int, cos, sin []F) {
	rope("RoPE", x, pos, heads, hd, cos, sin, 1)
}

// RoPEBackward rotates the gradient dx in place by the opposite angle, which
// is the transpose (and inverse) of the rotation RoPE applied.
func RoPEBackward[F Float](dx []F, pos []int32, heads, hd int, cos, sin []F) {
	rope("RoPEBackward", dx, pos, heads, hd, cos, sin, -1)
}

// rope rotates by +angle (dir 1) or -angle (dir -1).
func rope[F Float](op string, x []F, pos []int32, heads, hd int, cos, sin []F, dir F) {
	need(hd > 0 && hd%2 == 0, op, "head dim %d is not even", hd)
	half := hd / 2
	need(len(cos) == len(sin) && len(cos)%half == 0, op, "cos (%d) and sin (%d) tables are not [maxPos, %d]", len(cos), len(sin), half)
	maxPos := len(cos) / half
	width := heads * hd
	need(len(x) == len(pos)*width, op, "x has %d elements, want %d rows of %d heads x %d", len(x), len(pos), heads, hd)
	for i, p := range pos {
		if p < 0 || int(p) >= maxPos {
			fail(op, "pos[%d] = %d is outside the tables' %d positions", i, p, maxPos)
		}
		c, s := cos[int(p)*half:(int(p)+1)*half], sin[int(p)*half:(int(p)+1)*half]
		for h := range heads {
			x1 := x[i*width+h*hd : i*width+h*hd+half]
			x2 := x[i*width+h*hd+half : i*width+(h+1)*hd]
			for j := range half {
				a, b, sj := x1[j], x2[j], dir*s[j]
				x1[j] = a*c[j] - b*sj
				x2[j] = b*c[j] + a*sj
			}
		}
	}
}

// RoPE rotates the F32 tensor x [n, heads*hd] in place; pos has n entries and
// the F32 tables cos, sin are [maxPos, hd/2].
func (Engine) RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	ropeTensor("RoPE", x, pos, heads, cos, sin, 1)
}

// RoPEBackward rotates the F32 gradient dx in place by the opposite angle.
func (Engine) RoPEBackward(dx *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	ropeTensor("RoPEBackward", dx, pos, heads, cos, sin, -1)
}

func ropeTensor(op string, x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor, dir float32) {
	xv := f32(op, "x", x)
	need(heads > 0 && x.Cols()%heads == 0, op, "x %v is not a whole number of %d heads", x, heads)
	need(x.Rows() == len(pos), op, "x %v has %d rows for %d positions", x, x.Rows(), len(pos))
	hd := x.Cols() / heads
	cv, sv := f32(op, "cos", cos), f32(op, "sin", sin)
	need(cos.Cols() == hd/2 && sin.Cols() == hd/2, op, "tables cos %v and sin %v are not [maxPos, %d] for head dim %d", cos, sin, hd/2, hd)
	rope(op, xv, pos, heads, hd, cv, sv, dir)
}
