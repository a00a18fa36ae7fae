//go:build !amd64 || purego

package cpu

// dotKernels returns nil: there is no assembly row kernel here.
func dotKernels() []namedDotKernel { return nil }
