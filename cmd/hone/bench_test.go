package main

import (
	"strings"
	"testing"
)

func TestBenchCommand(t *testing.T) {
	out, errOut, code := hone(t, "", "bench", "--shape", "32x48x64", "--time", "10ms", "--threads", "2")
	if code != 0 {
		t.Fatalf("hone bench = exit %d (%s), want 0", code, errOut)
	}
	for _, want := range []string{"threads 2", "F32", "BF16", "GFLOP/s", "32x48x64: bf16 is", "engine cpu/"} {
		if !strings.Contains(out, want) {
			t.Errorf("hone bench output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"1x2", "0x1x1", "ax1x1"} {
		if _, errOut, code := hone(t, "", "bench", "--shape", bad); code != 2 || !strings.Contains(errOut, bad) {
			t.Errorf("hone bench --shape %s = exit %d (%q), want 2 naming the shape", bad, code, errOut)
		}
	}
}
