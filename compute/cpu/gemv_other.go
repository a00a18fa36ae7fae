//go:build !amd64 || purego

package cpu

// bf16RowKernel returns nil: there is no assembly row kernel here.
func bf16RowKernel(k *kernels) gemvKernel { return nil }

// bf16DotKernel returns nil: there is no assembly row kernel here.
func bf16DotKernel(kern *kernels, k int) gemvDotKernel { return nil }
