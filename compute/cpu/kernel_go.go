package cpu

import "unsafe"

// The portable kernels: plain Go over the same packed panels as the
// assembly ones, for platforms without them. A 4 x 16 tile keeps the
// accumulators in a small array the compiler can hold in registers or L1.
const (
	goMR = 4
	goNR = 16
)

// genericKernels is the pure-Go kernel set.
func genericKernels() kernels {
	return kernels{name: "generic", f32: f32Kernel{mr: goMR, nr: goNR, fn: kernF32Go}}
}

// kernF32Go computes a goMR x goNR tile of C from packed float32 panels.
func kernF32Go(kc int, a, b, c *float32, ldc int, acc int) {
	as := unsafe.Slice(a, kc*goMR)
	bs := unsafe.Slice(b, kc*goNR)
	var t [goMR][goNR]float32
	for kk := 0; kk < kc; kk++ {
		bv := (*[goNR]float32)(bs[kk*goNR:])
		av := (*[goMR]float32)(as[kk*goMR:])
		for i, x := range av {
			r := &t[i]
			for j, y := range bv {
				r[j] += x * y
			}
		}
	}
	cs := unsafe.Slice(c, (goMR-1)*ldc+goNR)
	for i := range t {
		row := (*[goNR]float32)(cs[i*ldc:])
		if acc != 0 {
			for j, v := range t[i] {
				row[j] += v
			}
		} else {
			*row = t[i]
		}
	}
}
