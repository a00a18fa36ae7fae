// Package tensor is hone's dense tensor: a dtype, a shape and little-endian
// storage in a byte slice that may be owned memory or a read-only memory map
// of a checkpoint.
//
// A Tensor is a plain value: no autograd, no device. Reshape and Row views
// share storage with their parent. Typed accessors (F32, BF16, ...) view the
// storage as a slice of the element type without copying; they panic when the
// dtype does not match, which is a broken invariant inside the engine.
//
// The half-precision conversions (bfloat16 and IEEE float16) live here too,
// since every package that reads or writes checkpoints needs them.
package tensor
