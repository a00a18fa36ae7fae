// Package compute defines the op set that hone's models are written against.
// Implementations live in sub-packages (they import this one, so the choice
// of engine is made by the caller: the hone command picks the fastest).
//
// An Engine is the union of small interfaces, one per kind of op, each holding
// a forward and its backward side by side. Two implementations exist:
//
//   - compute/ref: plain, obviously-correct Go, generic over float32 and
//     float64 so that every backward can be checked against finite differences
//     in float64. It is the yardstick every fast kernel is tested against.
//   - compute/cpu: the fast CPU kernels (assembly GEMM, fused and threaded
//     ops). It embeds the reference engine, so an op it has not specialised
//     falls back to the reference one.
//
// A CUDA engine will implement the same interfaces; model code never touches
// tensor storage directly, only through these ops.
//
// # Conventions
//
// Activations, gradients and saved statistics are F32 tensors; weights (the b
// operand of MatMul, norm weights, embedding tables) may also be BF16, or a
// quantized dtype where an engine supports it. Matrices are row-major; a
// tensor of any rank is seen as a matrix of Rows() x Cols().
//
// Every backward accumulates: gradients of inputs and of parameters are added
// (+=) into the tensors given, never overwritten, so that residual branches,
// tied weights and gradient accumulation compose without extra copies. A nil
// gradient tensor means "not needed" (a frozen parameter) and is skipped.
// Ops documented as in place (RoPE and its backward) are the exception.
package compute
