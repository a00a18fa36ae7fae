package main

import (
	"strings"
	"testing"
)

func TestBenchCommand(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--shape", "32x48x64", "--time", "10ms", "--threads", "2"},
		{"bench", "gemm", "--shape", "32x48x64", "--time", "10ms", "--threads", "2"},
	} {
		out, errOut, code := hone(t, "", args...)
		if code != 0 {
			t.Fatalf("hone %v = exit %d (%s), want 0", args, code, errOut)
		}
		for _, want := range []string{"threads 2", "F32", "BF16", "GFLOP/s", "% of peak", "32x48x64: bf16 is", "engine cpu/"} {
			if !strings.Contains(out, want) {
				t.Errorf("hone %v output lacks %q:\n%s", args, want, out)
			}
		}
	}
	out, errOut, code := hone(t, "", "bench", "gemm", "--shape", "smollm2-135m", "--tokens", "4", "--precision", "bf16", "--time", "1ms")
	if code != 0 {
		t.Fatalf("hone bench gemm --shape smollm2-135m = exit %d (%s), want 0", code, errOut)
	}
	for _, want := range []string{"4   576  49152 BF16", "4  1536    576 BF16"} {
		if !strings.Contains(out, want) {
			t.Errorf("hone bench gemm --shape smollm2-135m output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "F32 ") {
		t.Errorf("hone bench gemm --precision bf16 measured F32:\n%s", out)
	}
	for _, bad := range [][]string{
		{"bench", "--shape", "1x2"}, {"bench", "gemm", "--shape", "0x1x1"}, {"bench", "--shape", "ax1x1"},
		{"bench", "gemm", "--precision", "fp8"}, {"bench", "train", "--shape", "gpt-9"},
		{"bench", "train", "--precision", "fp8"}, {"bench", "generate", "--shape", "gpt-9"},
		{"bench", "train", "--model", "/nonexistent/hone-model"}, {"bench", "train", "--rank", "0", "--seq", "4"},
	} {
		if _, errOut, code := hone(t, "", bad...); code != 2 || !strings.Contains(errOut, bad[len(bad)-1]) && !strings.Contains(errOut, "rank") {
			t.Errorf("hone %v = exit %d (%q), want 2 naming %q", bad, code, errOut, bad[len(bad)-1])
		}
	}
}

// TestBenchTrainGenerate runs both model benchmarks at the SmolLM2-135M
// shape, briefly.
func TestBenchTrainGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 135M-parameter model twice")
	}
	out, errOut, code := hone(t, "", "bench", "train", "--seq", "8", "--steps", "1", "--precision", "bf16", "--threads", "2")
	if code != 0 {
		t.Fatalf("hone bench train = exit %d (%s), want 0", code, errOut)
	}
	for _, want := range []string{"smollm2-135m (random weights): 134.5M parameters, bf16 weights", "step 0 (warm-up)", "step 1 ",
		"trainable 2.442M", "tokens/s", "% of peak bf16", "peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("hone bench train output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = hone(t, "", "bench", "generate", "--prompt", "4", "--tokens", "3", "--threads", "2")
	if code != 0 {
		t.Fatalf("hone bench generate = exit %d (%s), want 0", code, errOut)
	}
	for _, want := range []string{"prefill 4 tokens", "decode 3 tokens", "weights read a token 269.0 MB", "of the bandwidth limit", "peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("hone bench generate output lacks %q:\n%s", want, out)
		}
	}
}
