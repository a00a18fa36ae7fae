//go:build !purego

package cpu

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
)

// dotKernels returns every AVX512_BF16 row kernel of the few-row product.
func dotKernels() []namedDotKernel {
	dots := []namedDotKernel{{"gemvBF16Dot", gemvBF16DotAVX512}}
	for b, f := range gemvDotBlocked {
		if f != nil {
			dots = append(dots, namedDotKernel{fmt.Sprintf("gemvBF16DotB%d", b), f})
		}
	}
	return dots
}

// TestGemvDotPick checks which dot kernel a row length gets: three equal
// blocks of cache lines where a kernel has them, else two, else the
// kernel with blocks of 64, 16, 4 and 1 lines.
func TestGemvDotPick(t *testing.T) {
	e := New(1)
	defer e.Close()
	if bf16DotKernel(&e.kern, 576) == nil {
		t.Skip("no bf16 dot kernel on this CPU")
	}
	addr := func(f gemvDotKernel) uintptr { return reflect.ValueOf(f).Pointer() }
	for _, c := range []struct {
		k    int
		want gemvDotKernel
	}{
		{576, gemvBF16DotB6}, {768, gemvBF16DotB8}, {896, gemvBF16DotB14}, {960, gemvBF16DotB10},
		{1024, gemvBF16DotB16}, {1536, gemvBF16DotB16}, {2048, gemvBF16DotB32}, {3072, gemvBF16DotB32},
		{32, gemvBF16DotAVX512}, {64, gemvBF16DotAVX512}, {2560, gemvBF16DotAVX512}, {4096, gemvBF16DotAVX512},
		{8192, gemvBF16DotAVX512},
	} {
		if got := bf16DotKernel(&e.kern, c.k); addr(got) != addr(c.want) {
			t.Errorf("k=%d: got %s, want %s", c.k, runtime.FuncForPC(addr(got)).Name(), runtime.FuncForPC(addr(c.want)).Name())
		}
	}
}
