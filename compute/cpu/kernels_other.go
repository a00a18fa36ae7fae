//go:build !amd64 || purego

package cpu

// availableKernels returns the portable Go kernels: there is no assembly
// for this platform (or the purego build tag asked for none).
func availableKernels() []kernels { return []kernels{genericKernels()} }
