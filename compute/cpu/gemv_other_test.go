//go:build !amd64 || purego

package cpu

// namedDotKernel is a dot row kernel and its name, for tests.
type namedDotKernel struct {
	name string
	f    gemvDotKernel
}

// dotKernels returns nil: there is no assembly row kernel here.
func dotKernels() []namedDotKernel { return nil }
