//go:build !amd64 || purego

package cpu

// stridedKernel returns nil: no in-place-B kernel on this platform.
func stridedKernel(k kernels) func(kc int, a, b, c *float32, ldb, ldc int, acc int) {
	return nil
}
