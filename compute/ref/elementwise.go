package ref

import "hone/tensor"

// Add sets dst = a + b elementwise; dst may alias a or b.
func Add[F Float](dst, a, b []F) {
	need(len(a) == len(dst) && len(b) == len(dst), "Add", "lengths dst %d, a %d, b %d differ", len(dst), len(a), len(b))
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// AddScaled sets dst += alpha * x elementwise.
func AddScaled[F Float](dst, x []F, alpha F) {
	need(len(x) == len(dst), "AddScaled", "lengths dst %d, x %d differ", len(dst), len(x))
	for i, v := range x {
		dst[i] += alpha * v
	}
}

// Scale sets x *= alpha elementwise.
func Scale[F Float](x []F, alpha F) {
	for i := range x {
		x[i] *= alpha
	}
}

// Add sets dst = a + b for F32 tensors of equal size (dst may alias a or b).
func (Engine) Add(dst, a, b *tensor.Tensor) {
	const op = "Add"
	Add(f32(op, "dst", dst), f32(op, "a", a), f32(op, "b", b))
}

// AddScaled sets dst += alpha * x for F32 tensors of equal size.
func (Engine) AddScaled(dst, x *tensor.Tensor, alpha float32) {
	const op = "AddScaled"
	AddScaled(f32(op, "dst", dst), f32(op, "x", x), alpha)
}

// Scale sets x *= alpha for an F32 tensor.
func (Engine) Scale(x *tensor.Tensor, alpha float32) {
	Scale(f32("Scale", "x", x), alpha)
}
